package gen

// varied is the template set New draws from. Its bodies are built so that
// unrelated stories share few 3-word runs, as real news does: internal/story
// shingles texts into them, and on the stock set's stories (whole sentences
// shared within a category) most of its LSH band lookups hit and every
// article verified the most candidates, where real news hits almost only on
// near-duplicates (README, "Near-duplicate story identity", for the figures
// and how they were measured). No literal run is three words long: every
// 3-word window holds a drawn phrase, and phrases are drawn anew for each
// sentence.
var varied = func() templateSet {
	cats := make([]category, len(categories))
	for i, c := range categories {
		cats[i] = category{name: c.name, weight: c.weight, titles: c.titles, lex: lexicons[c.name]}
		if ts, ok := variedTitles[c.name]; ok {
			cats[i].titles = ts
		}
	}
	return templateSet{categories: cats, generic: frames, totalWeight: weightOf(cats), sentenceCase: true}
}()

// variedTitles replace a category's stock titles where one of them reads
// wrongly with some slot word ("as a new virus strain cases rise"); Corpus
// keeps the stock ones.
var variedTitles = map[string][]template{
	"health": compileAll(
		"Outbreak of {disease} spreads in {country}, health officials warn",
		"New vaccine shows promise in cancer patients",
		"Hospitals in {city} under strain as {disease} spreads",
		"Study links obesity to higher diabetes risk in young adults",
	),
}

// frames are the varied set's sentences. Each {@name} draws from the
// category's lexicon (A: an actor, singular; T: a topic, singular; E: an
// event), else from phrases. A literal run is at most two words and most
// phrases are one or two, so that few 3-word runs recur.
var frames = compileAll(
	"{@A} {@said} {@when} that {@T} {@may} {@move} {@soon}.",
	"{@amid} {@concern} {@over} {@T}, {@A} {@said} {@plan} {@may} follow {@soon}.",
	"{@source} {@said} {@A} had {@weighed} {@plan} {@over} {@E}.",
	"{@E} {@drew} {@many} {@people} {@where} {@when}.",
	"{@A} {@called} {@step}, {@while} {@people} {@said} {@T} {@may} {@move}.",
	"{@T} {@moved} {@sharply} {@when}, {@according}.",
	"{@many} {@people} {@verbed} {@where} {@when} {@over} {@E}.",
	"{@A} {@plans} to {@weigh} {@T} {@soon}, {@according}.",
	"{first} {last}, {@role}, {@said} {@T} {@was} {@state}.",
	"{@A} {@declined} to {@comment} {@about} {@E}.",
	"{@earlier}, {@A} {@weighed} {@plan} {@for} {@T}.",
	"{@observers} {@expect} {@T} to {@move} {@sharply} {@soon}.",
	"{@many} {@items} {@were} {@affected} {@where}, {@according}.",
	"The {@total} {@was} {num}, {@against} {num} {@period}.",
	"\"{@we} {@feeling} {@over} {@T},\" {@A} {@said} {@when}.",
	"{@T} {@hasbeen} {@debated} {@for2} {@duration}.",
	"{@A} {@wants} {@plan} {@before} {@E}.",
	"{@share} {@people} {@surveyed} {@said} {@T} {@was} {@state}.",
	"The {@decision} {@comes} {@amid} {@concern} {@over} {@E}.",
	"{@details} {@were} {@expected} {@soon}.",
	"{@A} {@said} {@T} {@moved} {pct} percent {@when}.",
	"{@T} {@was} {@state}, {@said} {first} {last}, {@role}.",
	"{@amid} {@E}, {@many} {@people} {@verbed} {@where}.",
	"{@A} {@met} {@people} {@where} {@when} to {@weigh} {@T}.",
	"{@since} {@E}, {@T} {@has} {@moved2} {@sharply}.",
	"{@A} {@insisted} {@T} {@was} {@state}, {@despite} {@concern} {@over} {@E}.",
	"{@reactionto} {@E} {@was} {@reaction}, {@according}.",
	"{@A} {@said} {@many} {@people} {@had} {@verbed} {@when}.",
	"{@questions} {@remain} {@over} {@T} {@and} {@E}.",
	"{@A} {@weighed} {@plan} {@when}, {@ending} {@duration} of {@uncertainty}.",
	"{@many} {@people} {@verbed} {@where} {@before} {@E}.",
	"{first} {last} {@said} {@A} {@had} {@weighed} {@plan} {@for} {@T}.",
)

// phrases are the lists every category shares, by {@name}.
var phrases = func() map[string][]template {
	src := map[string][]string{
		"T":       {"the {@mod} {@N}", "the {@mod} {@N}", "the {@N}", "its {@mod} {@N}", "this {@mod} {@N}", "that {@N}"},
		"E":       {"the {@mod} {@V}", "the {@mod} {@V}", "the {@V}", "{day}'s {@V}", "last week's {@V}", "last month's {@mod} {@V}"},
		"we":      {"We are", "We remain", "We feel", "I am", "They are", "Everyone is", "We were", "I remain"},
		"hasbeen": {"has been", "was", "had been", "was again", "is being"},
		"for2":    {"for", "over", "during", "across"},
		"mod": {"new", "proposed", "revised", "planned", "draft", "national", "regional", "annual", "latest", "disputed",
			"second", "final", "current", "delayed", "expanded", "overdue", "interim", "joint", "rival", "fresh", "emergency", "amended", "partial"},
		"said": {"said", "announced", "confirmed", "stated", "noted", "added", "warned", "argued",
			"insisted", "acknowledged", "signalled", "wrote", "repeated", "stressed"},
		"when": {"on {day}", "late {day}", "early {day}", "{day}", "overnight", "recently", "today", "{day} morning", "{day} evening", "{day} afternoon", "on {day} night", "earlier", "again", "lately"},
		"may":  {"would", "could", "might", "will", "may", "should", "can", "must"},
		"move": {"rise", "fall", "change", "slow", "recover", "improve", "stall", "double", "weaken", "tighten", "expand", "shrink", "pick up", "level off", "ease"},
		"moved": {"rose", "fell", "changed", "slowed", "recovered", "improved", "stalled", "doubled", "weakened",
			"tightened", "expanded", "shrank", "picked up", "levelled off", "eased"},
		"moved2": {"risen", "fallen", "changed", "slowed", "recovered", "improved", "stalled", "doubled", "weakened",
			"tightened", "expanded", "shrunk", "picked up", "levelled off", "eased"},
		"soon":    {"soon", "shortly", "eventually", "later", "quickly", "by {day}", "within {num} days", "after {day}", "before {day}", "next {day}", "promptly"},
		"amid":    {"amid", "despite", "after", "following", "over", "during", "before"},
		"despite": {"despite", "amid", "after", "following", "notwithstanding"},
		"concern": {"concerns", "criticism", "pressure", "calls", "warnings", "complaints", "protests", "demands",
			"questions", "doubts", "fears", "objections"},
		"over":   {"over", "about", "regarding", "around", "surrounding", "concerning"},
		"about":  {"on", "about", "regarding", "concerning"},
		"called": {"called it", "deemed it", "branded it", "termed it", "considered it", "labelled it"},
		"step": {"a setback", "a breakthrough", "a gamble", "a compromise", "a victory", "an overreach", "a distraction",
			"progress", "premature", "reckless", "overdue", "welcome", "a mistake", "a milestone"},
		"source": {"two officials", "local media", "one analyst", "state media", "{first} {last}", "insiders", "organisers", "officials", "three sources", "aides", "witnesses", "a spokesperson", "an adviser", "analysts", "staffers"},
		"according": {"according to {@source}", "{@source} said", "{@source} reported", "{first} {last} said",
			"{@source} confirmed", "{@source} added"},
		"many": {"dozens of", "hundreds of", "several", "{num}", "nearly {num}", "about {num}", "some", "many",
			"scores of", "few", "over {num}", "almost {num}"},
		"people": {"residents", "workers", "officials", "families", "volunteers", "experts", "critics", "analysts",
			"local leaders", "campaigners", "observers", "staff", "commuters", "parents", "retirees", "members"},
		"verbed": {"met", "gathered", "protested", "waited", "rallied", "queued", "marched", "complained", "assembled",
			"cheered", "petitioned", "objected"},
		"where": {"in {city}", "outside {city}", "near {city}", "across {country}", "in {country}", "around {city}",
			"north of {city}", "south of {city}", "east of {city}", "west of {city}", "throughout {country}", "beyond {city}"},
		"plan": {"a plan", "a proposal", "a review", "an inquiry", "a deadline", "a timetable", "a deal", "an agreement",
			"a framework", "a consultation", "an audit", "a compromise", "a shortlist", "a roadmap"},
		"weighed": {"considered", "drafted", "rejected", "backed", "delayed", "softened", "revived", "shelved",
			"approved", "blocked", "outlined", "unveiled", "questioned", "endorsed"},
		"sharply": {"sharply", "slightly", "steadily", "quickly", "gradually", "briefly", "further", "again",
			"markedly", "unexpectedly"},
		"drew": {"drew", "attracted", "involved", "affected", "angered", "worried", "surprised", "divided", "energised",
			"mobilised"},
		"while": {"while", "but", "although", "whereas", "though"},
		"plans": {"planned", "hoped", "intended", "wanted", "aimed", "expected", "promised", "pledged", "vowed", "agreed",
			"offered", "threatened", "refused", "decided"},
		"weigh": {"review", "revisit", "reform", "defend", "expand", "limit", "delay", "fund", "overhaul", "simplify",
			"protect", "test"},
		"role": {"a spokesperson", "an adviser", "an official", "an organiser", "an analyst", "a volunteer", "an aide",
			"a director", "a critic", "a trustee"},
		"was": {"was", "remained", "looked", "seemed", "became", "stayed", "appeared", "is"},
		"state": {"under review", "on track", "in doubt", "unsettled", "a priority", "overdue", "at risk", "too costly",
			"unchanged", "uncertain", "stalled", "popular", "contested", "unpopular", "fragile", "secure"},
		"declined":    {"declined", "refused", "hesitated", "failed"},
		"comment":     {"comment", "elaborate", "respond", "speculate", "answer"},
		"earlier":     {"Earlier", "Recently", "Previously", "On {day}", "Meanwhile", "Separately", "{day}", "Later", "Already"},
		"for":         {"for", "on", "covering", "targeting", "regarding", "concerning"},
		"observers":   {"Observers", "Experts", "Officials", "Insiders", "Critics", "Residents", "Commentators", "Supporters", "Organisers", "Analysts"},
		"expect":      {"expect", "want", "need", "urged", "asked", "encouraged", "pressed", "advised"},
		"items":       {"homes", "schools", "businesses", "roads", "offices", "flights", "services", "shops", "farms", "routes", "trains", "bridges"},
		"were":        {"were", "remain", "stayed", "are"},
		"affected":    {"disrupted", "closed", "delayed", "damaged", "suspended", "reopened", "inspected", "evacuated", "shut", "cleared", "repaired"},
		"total":       {"figure", "number", "total", "tally", "estimate", "count", "rate", "level"},
		"against":     {"against", "versus", "compared with", "up from", "down from"},
		"period":      {"previously", "earlier", "before", "beforehand", "initially"},
		"feeling":     {"confident", "worried", "cautious", "optimistic", "concerned", "hopeful", "uneasy", "realistic"},
		"debated":     {"debated", "discussed", "delayed", "disputed", "planned", "promised", "postponed", "studied", "questioned"},
		"duration":    {"months", "years", "weeks", "{num} days", "decades", "{num} months", "{num} weeks", "ages"},
		"wants":       {"wanted", "sought", "demanded", "proposed", "rejected", "presented", "drafted", "promised", "opposed", "floated"},
		"before":      {"before", "after", "during", "following", "amid"},
		"share":       {"Most", "Few", "Many", "Some", "Several", "Half the"},
		"surveyed":    {"surveyed", "asked", "polled", "interviewed", "questioned"},
		"decision":    {"decision", "announcement", "move", "report", "change", "delay", "statement", "shift"},
		"comes":       {"comes", "came", "follows", "arrives"},
		"details":     {"Further details", "More details", "Updates", "Decisions", "The results", "Responses", "Fresh figures", "Reports"},
		"expected":    {"expected", "promised", "due", "likely", "awaited"},
		"met":         {"met", "visited", "hosted", "briefed", "consulted", "addressed", "thanked", "invited"},
		"since":       {"Since", "After", "Following", "Amid", "During"},
		"has":         {"has", "has now", "has already"},
		"insisted":    {"insisted", "maintained", "argued", "repeated", "claimed"},
		"reactionto":  {"Reaction to", "Response to", "Feeling about", "Opinion on", "Sentiment around", "Reception of"},
		"reaction":    {"mixed", "muted", "enthusiastic", "hostile", "cautious", "divided", "warm", "lukewarm"},
		"had":         {"had", "had already", "had earlier", "had since"},
		"questions":   {"Questions", "Doubts", "Worries", "Disagreements", "Concerns"},
		"remain":      {"remain", "persist", "linger", "continue"},
		"and":         {"and", "or"},
		"ending":      {"ending", "closing", "concluding", "capping"},
		"uncertainty": {"uncertainty", "debate", "delays", "talks", "speculation", "waiting"},
	}
	out := make(map[string][]template, len(src))
	for name, ss := range src {
		out[name] = compileAll(ss...)
	}
	return out
}()

// lexicons are each category's phrase lists (see frames): its keywords come
// from here and from the titles. A topic or an event is a noun of the
// category after a shared modifier ("the revised budget"), so that two
// stories of a category seldom name one the same way.
var lexicons = func() map[string]map[string][]template {
	src := map[string]map[string][]string{
		"politics": {
			"A": {"{first} {last}", "{party}", "the coalition", "the government", "the opposition", "{official}", "the cabinet",
				"the majority", "the speaker", "the commission", "lawmakers", "the governor"},
			"N": {"budget", "bill", "reform", "manifesto", "coalition deal", "referendum", "reshuffle", "legislation",
				"campaign", "constitution", "ballot", "mandate", "tax plan", "policy"},
			"V": {"vote", "debate", "election", "leadership contest", "referendum", "coalition talks", "session",
				"campaign launch", "primary", "hearing", "party congress", "recount"},
		},
		"world": {
			"A": {"{country}", "the UN", "NATO", "the ambassador", "the military", "diplomats", "the envoy", "peacekeepers", "the mediators", "the embassy", "negotiators", "the alliance"},
			"N": {"ceasefire", "treaty", "sanctions regime", "border", "withdrawal", "corridor", "prisoner exchange", "embargo",
				"aid convoy", "crossing", "buffer zone", "deployment", "peace plan", "mandate"},
			"V": {"summit", "ceasefire talks", "border clashes", "missile strikes", "diplomatic row", "troop buildup",
				"foreign ministers' meeting", "UN session", "refugee crisis", "war", "airstrikes", "negotiations"},
		},
		"business": {
			"A": {"{company}", "the company", "the exchange", "the retailer", "the board", "investors", "the CEO", "the lender", "the regulator", "shareholders", "traders", "analysts"},
			"N": {"profit", "share price", "interest rate", "inflation", "revenue", "merger", "dividend", "bond yield",
				"oil output", "trade surplus", "sales outlook", "profit forecast", "takeover bid", "stock index"},
			"V": {"earnings report", "merger talks", "rate decision", "shareholder meeting", "trade talks", "price war",
				"tariff dispute", "market sell-off", "acquisition", "sales figures", "bank audit", "profit warning"},
		},
		"technology": {
			"A": {"{techco}", "the chipmaker", "{techco}'s engineers", "developers", "regulators", "{techco}'s chief", "engineers", "rivals", "researchers", "hackers", "the manufacturer", "{techco}'s lawyers"},
			"N": {"{product}", "AI model", "chip", "software update", "cloud service", "app", "encryption standard",
				"smartphone", "data centre", "algorithm", "security patch", "digital ID", "chatbot", "operating system"},
			"V": {"cyber attack", "product launch", "data breach", "developer conference", "outage", "chip shortage",
				"hack", "software recall", "AI rollout", "app review", "internet blackout", "robot demo"},
		},
		"science": {
			"A": {"{agency}", "researchers", "the laboratory", "astronomers", "the observatory", "physicists", "{first} {last}", "geneticists", "biologists", "the institute", "the academy", "engineers"},
			"N": {"experiment", "telescope", "fossil record", "quantum device", "satellite", "rocket", "DNA analysis",
				"mission to {spaceobj}", "research grant", "particle detector", "planetary model", "lab result",
				"space probe", "genome study"},
			"V": {"launch", "discovery", "study", "experiment", "eclipse", "landing on {spaceobj}", "flyby", "research review",
				"science conference", "field survey", "rocket test", "telescope survey"},
		},
		"health": {
			"A": {"the WHO", "the hospital", "the clinic", "nurses", "doctors", "{first} {last}", "the ministry", "regulators", "surgeons", "the insurer", "the pharmacist", "the vaccine maker"},
			"N": {"vaccine", "treatment", "outbreak of {disease}", "hospital capacity", "waiting list", "cancer drug",
				"clinical trial", "patient data", "diabetes programme", "mental health funding", "infection rate",
				"surgery backlog", "health budget", "virus test"},
			"V": {"outbreak", "vaccination drive", "hospital strike", "clinical trial", "health alert", "infection wave",
				"medical review", "screening campaign", "rise in {disease}", "patient survey", "virus tests",
				"doctors' strike"},
		},
		"sports": {
			"A": {"{team}", "the coach", "the striker", "the league", "the club", "{first} {last}", "the captain", "the goalkeeper", "the player", "the referee", "the manager", "fans"},
			"N": {"title race", "transfer", "league table", "championship", "cup run", "team's form", "stadium deal",
				"squad", "Olympic qualifying", "penalty record", "{sport} season", "player contract", "coaching staff",
				"match schedule"},
			"V": {"match", "final", "derby", "{contest} semi-final", "transfer window", "championship game",
				"tournament", "training camp", "Olympic trials", "cup tie", "league decider", "play-off"},
		},
		"entertainment": {
			"A": {"{first} {last}", "the studio", "Netflix", "the jury", "the label", "the director", "the band", "the singer", "the actor", "the broadcaster", "the promoter", "critics"},
			"N": {"film", "album", "world tour", "box office", "film festival", "series", "soundtrack", "music video",
				"streaming deal", "ticket price", "premiere", "Oscar campaign", "movie sequel", "TV drama"},
			"V": {"premiere", "concert", "festival", "album release", "award show", "tour opening", "film screening",
				"Grammy ceremony", "series finale", "casting call", "movie launch", "music awards"},
		},
		"environment": {
			"A": {"the ministry", "conservationists", "the agency", "firefighters", "forecasters", "{first} {last}", "the trust", "activists", "scientists", "foresters", "the coastguard", "farmers"},
			"N": {"carbon output", "climate target", "{disaster} risk", "forest cover", "solar capacity",
				"flood defence", "plastic ban", "wildlife corridor", "emissions plan", "drought plan",
				"ocean pollution", "recycling scheme", "carbon tax", "renewable quota"},
			"V": {"{disaster}", "climate summit", "heatwave", "flood warning", "wildfire season",
				"storm", "drought", "conservation survey", "emissions report", "oil spill", "flooding", "glacier melt"},
		},
		"crime": {
			"A": {"the police", "the prosecutor", "the court", "the judge", "the detectives", "the defence", "the suspect", "{first} {last}", "investigators", "the jury", "prosecutors", "the inspectorate"},
			"N": {"{crimeword} case", "investigation", "trial", "evidence", "arrest warrant", "sentence", "appeal",
				"gang network", "witness statement", "police report", "court ruling", "charge sheet", "prison term",
				"crime rate"},
			"V": {"arrest", "trial", "shooting", "raid", "court hearing", "verdict", "{crimeword} inquiry",
				"police operation", "sentencing", "robbery", "murder trial", "fraud hearing"},
		},
		"other": {
			"A": {"the baker", "the library", "the council", "{first} {last}", "the ranger", "the museum", "the school", "neighbours", "organisers", "the shopkeeper", "the zoo", "villagers"},
			"N": {"old building", "community garden", "anniversary", "local tradition", "bakery", "lost book",
				"white deer", "flower show", "town clock", "village fair", "charity drive", "bus route", "bell tower",
				"duck pond"},
			"V": {"celebration", "anniversary", "open day", "sighting", "reunion", "parade", "charity walk",
				"fundraiser", "clean-up day", "ceremony", "bake sale", "street party"},
		},
	}
	out := make(map[string]map[string][]template, len(src))
	for cat, lists := range src {
		out[cat] = make(map[string][]template, len(lists)+2)
		for name, ss := range lists {
			out[cat][name] = compileAll(ss...)
		}
	}
	return out
}()
