package gen

import (
	"fmt"
	"slices"
	"strings"
)

// segment is a literal run of text or a slot filled at generation time.
type segment struct {
	lit     string
	words   []string // slot: one of these
	slot    int      // the words' index in slotNames, for a story's binding
	nth     int      // which occurrence of that slot in its template, from 0
	special int      // slot: a number (slotNum, slotBig, slotPct)
	phrase  string   // "{@name}": a template of the category's lex[name], else of phrases[name]
}

const (
	slotNum = iota + 1 // 2–999
	slotBig            // 1,000–99,900
	slotPct            // 0.1–14.9
)

// template is a compiled sentence: literals and slots.
type template []segment

// category is one kind of story with its templates.
type category struct {
	name      string // a news.Categories entry, for URLs
	weight    int    // relative frequency
	titles    []template
	ledes     []template // first sentence of the body; none: a sentence
	sentences []template // further sentences
	// lex holds the category's phrase lists, by {@name}.
	lex map[string][]template
}

// templateSet is what a Generator draws stories from.
type templateSet struct {
	categories   []category
	generic      []template // sentences of every category
	totalWeight  int        // the categories' weights' sum
	sentenceCase bool       // capitalise a body sentence's first letter
}

// stock is the first template set: few fixed sentences per category, so
// unrelated stories of a category share many 3-word runs. gen.Corpus keeps
// it (its labelled pairs and hard negatives were built on it).
var stock = templateSet{categories: categories, generic: generic, totalWeight: weightOf(categories)}

func weightOf(cs []category) int {
	n := 0
	for _, c := range cs {
		n += c.weight
	}
	return n
}

// slots are the word lists templates draw from, by {name}.
var slots = map[string][]string{
	"country": {"France", "Germany", "Japan", "Brazil", "India", "Canada", "Kenya", "Mexico", "Australia", "Poland",
		"Spain", "Italy", "Nigeria", "Indonesia", "Turkey", "Argentina", "Norway", "Vietnam", "Egypt", "South Korea",
		"Chile", "Ghana", "Sweden", "Portugal", "Thailand", "Morocco"},
	"city": {"Paris", "Berlin", "Tokyo", "São Paulo", "Mumbai", "Toronto", "Nairobi", "Lagos", "Sydney", "Warsaw",
		"Madrid", "Milan", "Jakarta", "Istanbul", "Oslo", "Cairo", "Seoul", "Chicago", "London", "Geneva", "Lisbon",
		"Bangkok", "Santiago", "Accra", "Lyon", "Osaka"},
	"person": {"Maria Keller", "James Okafor", "Lena Novak", "Arjun Mehta", "Sofia Rossi", "Daniel Brooks",
		"Amara Diallo", "Kenji Watanabe", "Elena Petrova", "Lucas Moreau", "Priya Nair", "Tomasz Zielinski",
		"Hannah Schmidt", "Carlos Mendes", "Aisha Bello", "Oliver Grant", "Mei Lin", "Rafael Ortega"},
	"day":   {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"},
	"party": {"the Liberal Party", "the Social Democrats", "the Green Party", "the Conservative bloc", "the People's Alliance", "the Centre Party"},
	"policy": {"pension reform", "the new budget", "immigration rules", "the energy bill", "income tax cuts",
		"a national housing plan", "electoral reform", "the education bill", "minimum wage rules"},
	"company": {"Northwind Energy", "Helix Systems", "Arcadia Bank", "Meridian Foods", "Vantage Motors", "Quantix",
		"BlueRiver Retail", "Solace Pharma", "Orbital Dynamics", "Kestrel Airlines", "Ironbridge Steel", "Lumen Telecom"},
	"techco": {"Helix Systems", "Quantix", "Nimbus Cloud", "Cortexa AI", "Lumen Telecom", "Pixelforge", "Sentinel Security"},
	"product": {"smartphone", "AI assistant", "cloud platform", "chip", "software update", "app", "robot vacuum",
		"laptop", "search algorithm", "satellite internet service"},
	"team": {"Riverside United", "Northgate Rovers", "Harbor City FC", "Eastwood Athletic", "Capital Lions",
		"Valley Rangers", "Westport Wanderers", "Summit City Hawks"},
	"sport":     {"football", "basketball", "tennis", "cricket", "rugby"},
	"contest":   {"league", "cup", "championship", "tournament"},
	"disease":   {"measles", "influenza", "dengue fever", "cholera", "a new virus strain", "tuberculosis"},
	"film":      {"The Silent Harbor", "Midnight in Lisbon", "Paper Kingdoms", "The Last Lighthouse", "Glass Rivers", "Northern Lights"},
	"spaceobj":  {"Mars", "the Moon", "Jupiter's moon Europa", "a distant exoplanet", "a near-Earth asteroid", "Saturn's rings"},
	"disaster":  {"flood", "wildfire", "drought", "storm", "heatwave", "earthquake"},
	"crimeword": {"fraud", "robbery", "murder", "money laundering", "smuggling", "cyber fraud"},
	"agency":    {"the space agency", "NASA", "the European Space Agency", "a university laboratory", "the national research institute"},
	"official":  {"the prime minister", "the finance minister", "the president", "the interior minister", "the opposition leader"},
	// first and last name the people of the varied set (a story binds one of
	// each, like {person}).
	"first": {"Anna", "Tobias", "Ingrid", "Samuel", "Fatima", "Marco", "Yuki", "Olga", "Pedro", "Grace", "Viktor", "Nadia",
		"Hugo", "Leila", "Felix", "Zainab", "Mateo", "Clara", "Ibrahim", "Sara", "Pavel", "Chloe", "Kwame", "Irene",
		"Jonas", "Mariana", "Ravi", "Eva", "Dmitri", "Lucia", "Adam", "Noor", "Emil", "Rosa", "Hiroshi", "Alice",
		"Stefan", "Amina", "Julien", "Beatriz"},
	"last": {"Andersen", "Fischer", "Kowalski", "Haddad", "Tanaka", "Ferreira", "Ivanova", "Mensah", "Larsen", "Dubois",
		"Castillo", "Hoffmann", "Nakamura", "Osei", "Vargas", "Lindqvist", "Marchetti", "Popescu", "Kaplan", "Bauer",
		"Santos", "Horvath", "Okonkwo", "Svensson", "Moretti", "Yilmaz", "Duarte", "Nowak", "Jansen", "Rahman",
		"Costa", "Weber", "Sato", "Eriksen", "Valdez", "Novotny", "Adeyemi", "Lambert", "Ricci", "Fontaine"},
}

// slotNames lists the names of slots, sorted; a word segment's slot is its
// index here.
var slotNames = func() []string {
	names := make([]string, 0, len(slots))
	for name := range slots {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}()

// compile parses "text {slot} text" into a template; it panics on an unknown
// slot, which the package's tests catch. The n-th {slot} of one name in a
// template is its occurrence n, so "{team} beat {team}" names two teams.
func compile(s string) template {
	var t template
	seen := map[string]int{}
	for s != "" {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			t = append(t, segment{lit: s})
			break
		}
		if i > 0 {
			t = append(t, segment{lit: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			panic(fmt.Sprintf("gen: unclosed slot in %q", s))
		}
		name := s[i+1 : i+j]
		if phrase, ok := strings.CutPrefix(name, "@"); ok {
			t = append(t, segment{phrase: phrase})
			s = s[i+j+1:]
			continue
		}
		switch name {
		case "num":
			t = append(t, segment{special: slotNum})
		case "big":
			t = append(t, segment{special: slotBig})
		case "pct":
			t = append(t, segment{special: slotPct})
		default:
			w, ok := slots[name]
			if !ok {
				panic(fmt.Sprintf("gen: unknown slot {%s} in %q", name, s))
			}
			t = append(t, segment{words: w, slot: slices.Index(slotNames, name), nth: seen[name]})
			seen[name]++
		}
		s = s[i+j+1:]
	}
	return t
}

func compileAll(ss ...string) []template {
	ts := make([]template, len(ss))
	for i, s := range ss {
		ts[i] = compile(s)
	}
	return ts
}

// generic sentences fill bodies of every category. They avoid every
// category keyword of the offline enricher so as not to blur the category.
var generic = compileAll(
	"Further details are expected to be released later this week.",
	"Officials in {city} said the situation was being monitored closely.",
	"Local residents described the mood as tense but calm on {day}.",
	"Observers said the coming days would show whether the plan holds.",
	"A spokesperson declined to comment on the details when contacted on {day}.",
	"The announcement came after weeks of speculation in {city}.",
	"Analysts said it was too early to draw firm conclusions.",
	"The story is developing and this report will be updated.",
	"Several people familiar with the matter confirmed the account, speaking on condition of anonymity.",
	"It was not immediately clear how the decision would be carried out in practice.",
	"Critics argued that the move came too late, while supporters called it a necessary step.",
	"{person}, a longtime observer, said the next few weeks would be decisive.",
)

// categories are weighted roughly like a general news feed.
var categories = []category{
	{name: "politics", weight: 16,
		titles: compileAll(
			"Parliament in {country} votes on {policy} as coalition talks stall",
			"{person} wins party leadership vote ahead of general election",
			"Government of {country} faces no-confidence vote over {policy}",
			"Opposition lawmakers walk out of parliament in row over {policy}",
			"Voters in {country} head to the polls in tight presidential election",
			"{official} of {country} resigns after cabinet dispute",
		),
		ledes: compileAll(
			"Lawmakers in {country} voted {num} to {num} on {day} on {policy}, the government's flagship proposal.",
			"The government of {country} said on {day} it would put {policy} to a parliamentary vote next month.",
			"{person} of {party} was elected to lead the coalition after a vote that lasted late into the night.",
			"Voters in {country} cast ballots on {day} in an election seen as a referendum on {policy}.",
		),
		sentences: compileAll(
			"{party} said it would vote against the bill unless the government changed course.",
			"The coalition holds a narrow majority in parliament, leaving little room for defections.",
			"Opposition leaders accused the cabinet of rushing the legislation through.",
			"{official} told reporters the government was confident of winning the vote.",
			"Polls suggest {party} has gained {pct} points since the campaign began.",
			"The electoral commission said turnout reached {pct} percent by midday.",
			"Several senators called for a referendum before the reform takes effect.",
			"The president is expected to sign the bill into law if parliament approves it.",
		),
	},
	{name: "world", weight: 12,
		titles: compileAll(
			"NATO leaders meet in {city} as border tensions rise",
			"Ceasefire talks resume in {city} after weeks of fighting",
			"{country} recalls ambassador in diplomatic row with neighbour",
			"Thousands of refugees cross the border into {country}",
			"Summit in {city} ends with new sanctions and a treaty pledge",
		),
		ledes: compileAll(
			"Diplomats gathered in {city} on {day} for talks aimed at securing a ceasefire along the disputed border.",
			"{country} recalled its ambassador on {day} after troops were reported near the border.",
			"International mediators said {big} refugees had crossed into {country} over the past week.",
			"Foreign ministers meeting at a summit in {city} agreed on new sanctions on {day}.",
		),
		sentences: compileAll(
			"The UN said humanitarian convoys were still waiting at the border.",
			"Military officials reported missile strikes near the frontier overnight.",
			"The treaty, if signed, would be the first such agreement in a decade.",
			"Embassy staff in {city} were told to prepare for evacuation.",
			"NATO said it was monitoring troop movements along the border.",
			"Diplomats said the sanctions would target senior military commanders.",
			"Aid groups warned of a growing refugee crisis as the conflict enters its {num}th day.",
			"Foreign observers described the ceasefire as fragile.",
		),
	},
	{name: "business", weight: 14,
		titles: compileAll(
			"{company} shares jump {pct}% after strong quarterly earnings",
			"Inflation in {country} slows to {pct}% as prices ease",
			"{company} agrees merger with {company} in multibillion-dollar deal",
			"Central bank of {country} holds interest rates as economy cools",
			"Oil prices climb as markets weigh supply cuts",
			"{company} to cut {big} jobs as sales slump",
		),
		ledes: compileAll(
			"Shares of {company} rose {pct}% on {day} after the company reported revenue well above analyst forecasts.",
			"Inflation in {country} eased to {pct}% last month, giving the central bank room to pause rate rises.",
			"{company} said on {day} it had agreed to an acquisition that would create one of the largest companies in its industry.",
			"Stock markets in {city} fell for a third day as investors worried about slowing economic growth.",
		),
		sentences: compileAll(
			"The company said profit rose {pct}% year on year, driven by higher sales in its retail business.",
			"Investors have been watching earnings closely for signs of a slowdown.",
			"The CEO, {person}, told analysts that demand remained strong despite higher prices.",
			"Shareholders will vote on the merger at a meeting next month.",
			"Economists expect GDP growth of about {pct}% this year.",
			"Bank lending has slowed as borrowing costs remain high.",
			"Tariffs on imported steel have weighed on industrial margins, the company said.",
			"The stock market index closed {pct}% lower on the day.",
		),
	},
	{name: "technology", weight: 12,
		titles: compileAll(
			"{techco} unveils new AI {product} at developer conference",
			"Hackers breach {company} systems in major cyber attack",
			"{techco} launches {product} to rival Apple and Google",
			"Chipmaker shortage hits smartphone production",
			"New software update fixes critical security flaw in millions of devices",
		),
		ledes: compileAll(
			"{techco} on {day} unveiled a new {product} powered by artificial intelligence, its biggest launch in years.",
			"Hackers gained access to computer systems at {company}, the company said on {day}, in a cyber attack affecting {big} customers.",
			"A shortage of semiconductor chips is slowing smartphone and laptop production, manufacturers said on {day}.",
			"{techco} released a software update for its {product} after researchers found a critical flaw.",
		),
		sentences: compileAll(
			"The company said the AI features would roll out to users of its app over the coming weeks.",
			"Cyber security experts urged users to install the software update immediately.",
			"The new chip is built on a smaller process, promising faster performance and longer battery life.",
			"{techco} competes with Google, Apple and Microsoft in the cloud computing market.",
			"Engineers said the algorithm had been trained on data from {big} devices.",
			"The hack exposed names and email addresses but no payment data, the company said.",
			"Digital rights groups raised concerns about how the technology handles personal data.",
			"The smartphone will go on sale online in {country} next month.",
		),
	},
	{name: "science", weight: 7,
		titles: compileAll(
			"Telescope spots water vapour on {spaceobj}",
			"Scientists discover new species in deep ocean study",
			"{agency} rocket launches mission to {spaceobj}",
			"Physicists report breakthrough in quantum experiment",
		),
		ledes: compileAll(
			"Astronomers using a space telescope said on {day} they had detected water vapour on {spaceobj}.",
			"{agency} launched a rocket on {day} carrying a satellite that will study {spaceobj}.",
			"Researchers at a laboratory in {city} reported a quantum experiment that could change how computers are built.",
			"A team of scientists said they had discovered fossils that shed new light on early mammals.",
		),
		sentences: compileAll(
			"The research was published in a peer-reviewed journal on {day}.",
			"Scientists said the discovery would need to be confirmed by further studies.",
			"The mission is expected to reach {spaceobj} in about {num} days.",
			"The telescope can observe planets hundreds of light years away.",
			"The study analysed DNA samples from {num} specimens.",
			"Physicists described the experiment as a significant step for quantum research.",
			"{person}, who led the research, said the results were surprising.",
		),
	},
	{name: "health", weight: 8,
		titles: compileAll(
			"Outbreak of {disease} spreads in {country}, health officials warn",
			"New vaccine shows promise in cancer patients",
			"Hospitals in {city} under strain as {disease} cases rise",
			"Study links obesity to higher diabetes risk in young adults",
		),
		ledes: compileAll(
			"Health officials in {country} reported {num} new cases of {disease} on {day}, warning the outbreak could spread.",
			"A new vaccine reduced tumour growth in cancer patients in an early clinical trial, doctors said on {day}.",
			"Hospitals in {city} postponed surgery as {disease} infections filled emergency wards.",
			"Doctors urged patients with symptoms of {disease} to seek treatment early.",
		),
		sentences: compileAll(
			"The health ministry said vaccination clinics would extend their opening hours.",
			"Doctors said most patients recover within {num} days with treatment.",
			"Nurses' unions warned that hospital staff were exhausted.",
			"The WHO said it was sending medical experts to support local clinics.",
			"Symptoms include fever, cough and fatigue, health officials said.",
			"The treatment is expected to be available to patients next year.",
			"Mental health services have also reported rising demand.",
		),
	},
	{name: "sports", weight: 12,
		titles: compileAll(
			"{team} beat {team} to reach {sport} {contest} final",
			"{person} wins {sport} championship title in straight sets",
			"{team} sack coach after losing streak",
			"Late goal hands {team} dramatic {contest} win",
			"Star striker joins {team} in record transfer",
		),
		ledes: compileAll(
			"{team} beat {team} {num}-{num} on {day} to reach the final of the {contest}.",
			"{person} won the {sport} championship on {day}, the player's first major title.",
			"{team} dismissed their coach on {day} after a run of defeats left the team near the bottom of the league.",
			"A goal in stoppage time gave {team} victory in front of a sold-out stadium.",
		),
		sentences: compileAll(
			"The coach praised the players for their resilience in the second half.",
			"The striker has now scored {num} goals in all competitions this season.",
			"Fans in the stadium celebrated long after the final whistle.",
			"The team will face {team} in the next round of the {contest}.",
			"The transfer fee was reported to be a club record.",
			"The league title race remains open with {num} matches left to play.",
			"The athlete is also expected to compete at the Olympics next summer.",
		),
	},
	{name: "entertainment", weight: 7,
		titles: compileAll(
			"{film} tops box office in opening weekend",
			"{person} to star in Netflix series based on bestselling novel",
			"Singer {person} announces world tour and new album",
			"{film} wins top prize at {city} film festival",
		),
		ledes: compileAll(
			"The movie {film} earned {big} dollars at the box office in its opening weekend, the studio said on {day}.",
			"Singer {person} announced a new album and a world tour with concerts in {city} and other cities.",
			"{film} won the top award at the {city} film festival on {day}, beating {num} other films.",
			"Streaming service Netflix said on {day} that {person} would star in a new television drama.",
		),
		sentences: compileAll(
			"Critics praised the film's performances and its striking music.",
			"The actor said the role was the most demanding of their career.",
			"Tickets for the concerts sold out within hours.",
			"The album features collaborations with several Grammy-winning artists.",
			"The series will premiere on the streaming platform next spring.",
			"Hollywood studios have been releasing more films directly to streaming.",
		),
	},
	{name: "environment", weight: 7,
		titles: compileAll(
			"Climate summit in {city} ends with pledge to cut emissions",
			"{disaster} forces thousands to evacuate in {country}",
			"Record heatwave scorches {country} as temperatures soar",
			"Deforestation in the Amazon falls {pct}%, data shows",
		),
		ledes: compileAll(
			"Delegates at a climate conference in {city} agreed on {day} to cut carbon emissions faster.",
			"The {disaster} forced thousands of people from their homes in {country} on {day}, officials said.",
			"Temperatures in {country} reached record highs during a heatwave that has lasted {num} days.",
			"Satellite data showed deforestation fell {pct}% last year, conservation groups said on {day}.",
		),
		sentences: compileAll(
			"Scientists say global warming is making extreme weather more frequent.",
			"Renewable energy, including solar and wind, now supplies a growing share of power.",
			"Conservation groups said more must be done to protect wildlife and forests.",
			"The flood waters were expected to recede over the coming days.",
			"Plastic pollution in the ocean has doubled in two decades, researchers estimate.",
			"Firefighters were battling wildfires in several regions.",
			"Climate activists staged a protest outside the venue.",
		),
	},
	{name: "crime", weight: 7,
		titles: compileAll(
			"Police arrest {num} suspects in {city} {crimeword} investigation",
			"Court sentences former executive to prison for {crimeword}",
			"Police appeal for witnesses after shooting in {city}",
			"Trial opens in {city} over {crimeword} scheme",
		),
		ledes: compileAll(
			"Police in {city} arrested {num} suspects on {day} in connection with a {crimeword} investigation.",
			"A court in {city} sentenced a former executive to {num} months in prison for {crimeword}.",
			"Detectives appealed for witnesses after a shooting in {city} late on {day}.",
			"The trial of {num} people accused of {crimeword} opened in {city} on {day}.",
		),
		sentences: compileAll(
			"Prosecutors said the suspects had been under investigation for months.",
			"The judge said the crime had caused serious harm to its victims.",
			"Police said the suspect was known to officers.",
			"The defendants deny the charges and their trial is expected to last weeks.",
			"Detectives seized cash and phones during raids on {num} properties.",
			"The criminal gang is accused of smuggling goods across the border.",
		),
	},
	{name: "other", weight: 3,
		titles: compileAll(
			"Family bakery in {city} celebrates {num} years",
			"Rare white deer spotted in park near {city}",
			"Library returns book borrowed {num} years ago",
		),
		ledes: compileAll(
			"A family bakery in {city} marked {num} years on {day} with free bread for its neighbours.",
			"Walkers near {city} were surprised on {day} to spot a rare white deer.",
			"A library in {city} said on {day} a book had been returned {num} years late.",
		),
		sentences: compileAll(
			"The owners said they had no plans to slow down.",
			"Neighbours gathered to share stories and old photographs.",
			"Staff said they were simply happy to have it back.",
		),
	},
}
