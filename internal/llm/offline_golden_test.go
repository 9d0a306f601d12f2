package llm_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"newsflow/internal/gen"
	"newsflow/internal/llm"
	"newsflow/internal/news"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/offline_golden.jsonl from the current offline enricher")

// goldenPath holds the offline enricher's answers for a fixed corpus: a
// change to the heuristics (which must bump OfflineModel) shows up here, and
// a rewrite for speed must leave every line unchanged.
const goldenPath = "testdata/offline_golden.jsonl"

type goldenCase struct {
	Message news.Message    `json:"message"`
	Want    news.Enrichment `json:"want"`
}

func TestOffline_Golden(t *testing.T) {
	t.Parallel()
	if *updateGolden {
		writeGolden(t)
	}
	f, err := os.Open(goldenPath)
	if err != nil {
		t.Fatalf("open golden corpus (go test ./internal/llm -run Golden -update writes it): %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n, langs, cats := 0, map[string]int{}, map[string]int{}
	for sc.Scan() {
		var c goldenCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		n++
		got := llm.OfflineEnrichment(c.Message)
		if d := cmp.Diff(c.Want, got); d != "" {
			t.Errorf("message %q (line %d) (-want +got):\n%s", c.Message.ID, n, d)
		}
		langs[got.Language]++
		cats[got.Category]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// The corpus must exercise every language and category, or it checks less
	// than it seems to.
	if n < 300 || len(langs) < 11 || len(cats) < len(news.Categories) {
		t.Errorf("golden corpus has %d cases, languages %v, categories %v: want ≥ 300, all 11 languages and all categories", n, langs, cats)
	}
}

// goldenMessages is the corpus: generated stories of three sizes, with
// reposts, and the hand-written ones.
func goldenMessages(t testing.TB) []news.Message {
	var out []news.Message
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		seed  int64
		n     int
		bytes int
	}{{1, 160, 0}, {2, 60, 200}, {3, 40, 3000}} {
		g, err := gen.New(gen.Config{Seed: c.seed, BodyBytes: c.bytes, DupContent: 0.1, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		for range c.n {
			out = append(out, g.Next())
		}
	}
	for i, s := range handWritten {
		out = append(out, news.Message{ID: fmt.Sprintf("hand:%03d", i), Source: "hand",
			Title: s.title, Body: s.body, Lang: s.lang})
	}
	return out
}

func writeGolden(t *testing.T) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, m := range goldenMessages(t) {
		if err := enc.Encode(goldenCase{Message: m, Want: llm.OfflineEnrichment(m)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// handWritten covers the eleven languages the heuristics know, the letters
// and words that decide between them, and the corners of tokenising,
// sentence splitting and scoring.
var handWritten = []struct{ lang, title, body string }{
	{"", "Government announces new budget", "The finance minister said on Tuesday that the plan will be presented to parliament after the summer break."},
	{"", "Regierung stellt neuen Haushalt vor", "Der Finanzminister sagte am Dienstag, dass der Plan nach der Sommerpause dem Parlament vorgelegt wird. Die Opposition kritisierte die Ausgaben für das Militär."},
	{"", "Le gouvernement présente un nouveau budget", "Le ministre des Finances a déclaré mardi que le plan sera présenté au parlement après la pause estivale. « C'est un budget d'avenir », a-t-il dit."},
	{"", "El gobierno presenta un nuevo presupuesto", "El ministro de Hacienda dijo el martes que el plan será presentado al parlamento después de las vacaciones de verano. ¿Habrá elecciones? ¡Nadie lo sabe!"},
	{"", "Il governo presenta una nuova manovra", "Il ministro dell'Economia ha detto martedì che il piano sarà presentato al parlamento dopo la pausa estiva. Più tasse per le imprese, però."},
	{"", "O governo apresenta um novo orçamento", "O ministro das Finanças disse na terça-feira que o plano será apresentado ao parlamento depois das férias de verão. As ações da empresa caíram."},
	{"", "Regering presenteert nieuwe begroting", "De minister van Financiën zei dinsdag dat het plan na het zomerreces aan het parlement wordt voorgelegd. Het kabinet heeft er vertrouwen in."},
	{"", "Правительство представило новый бюджет", "Министр финансов заявил во вторник, что план будет представлен парламенту после летних каникул. Экономика растёт быстрее, чем ожидалось."},
	{"", "Уряд представив новий бюджет", "Міністр фінансів заявив у вівторок, що план буде представлено парламенту після літніх канікул. Економіка зростає, і це добре."},
	{"", "Rząd przedstawia nowy budżet", "Minister finansów powiedział we wtorek, że plan zostanie przedstawiony w parlamencie po przerwie wakacyjnej. Opozycja się nie zgadza."},
	{"", "Regeringen presenterar en ny budget", "Finansministern sade på tisdagen att planen kommer att läggas fram för riksdagen efter sommaruppehållet. Det är en stor förändring."},
	{"", "", "Storm hits the coast and thousands lose power."},
	{"", "Breaking: earthquake kills 12 in Chile", "A magnitude 7.1 earthquake struck northern Chile on Monday. At least 12 people were killed, officials said. Rescue teams are searching the rubble."},
	{"", "BREAKING: Earthquake kills thousands", "A magnitude 7.8 earthquake killed more than 2,000 people; the president declared a state of emergency. " + strings.Repeat("Rescue work goes on. ", 30)},
	{"", "Cat naps", "A cat took a nap."},
	{"", "Senate passes election reform", "Lawmakers voted 52-48 after a long campaign by the opposition."},
	{"", "NATO summit opens amid border tensions", "Diplomats from 30 countries discussed sanctions and a ceasefire."},
	{"", "Shares slide as inflation bites", "Investors sold stocks after the company cut its profit forecast."},
	{"", "New smartphone chip unveiled", "The software update brings AI features to Android apps."},
	{"", "Telescope spots water on distant planet", "Researchers say the discovery could change astronomy."},
	{"", "Hospitals brace for flu outbreak", "Doctors urge patients to get vaccinated before winter."},
	{"", "Striker scores twice as team wins the cup", "The championship final drew a record crowd to the stadium."},
	{"", "Singer announces world tour and new album", "The Grammy winner will also appear in a Netflix film."},
	{"", "Wildfire and drought blamed on climate change", "Carbon emissions keep rising, scientists warn, as forests burn."},
	{"", "Police arrest suspect in murder case", "The man was charged and will stand trial in court next month."},
	{"", "Local bakery celebrates anniversary", "Customers lined up for free croissants on Saturday."},
	{"", "Bundesliga: Bayern gewinnt Fußball-Krimi", "Der Trainer lobte die Mannschaft nach dem Match. Über 75.000 Zuschauer waren im Stadion."},
	{"fi", "12345", ""},
	{"pt-br", "12345", ""},
	{"", "12345", ""},
	{"de-AT", "2024", "1999 — 2024."},
	{"T", "T", "First one. Second one. Third one."},
	{"", "Just a headline", ""},
	{"", "T", "Dr. Smith met Mr. Jones in the U.S. on Monday. They talked."},
	{"", "T", "Growth hit 2.5 percent in May! Analysts were surprised."},
	{"", "T", strings.Repeat("x", 150) + ". " + strings.Repeat("Y", 200) + "."},
	{"", "T", "  Spread\n\nout   text.  "},
	{"", "T", strings.Repeat("word ", 200)},
	{"", "T", strings.Repeat("слово ", 120)},
	{"", "T", strings.Repeat("a", 400)},
	{"", "T", strings.Repeat("é", 400)},
	{"", "Quotes", `He said: "It is over." Then he left. 'Fine.' She replied.`},
	{"", "Quotes", `"Es ist vorbei.“ Dann ging er. »Gut.« Sie antwortete.`},
	{"", "Brackets", "The vote (held on Sunday.) Counted twice. Results [final.] Published."},
	{"", "Ellipsis", "Wait… What happened? Nobody knows! Really."},
	{"", "CJK", "地震が発生しました。被害は不明です。"},
	{"", "Initials", "J. R. R. Tolkien wrote books. They sold millions."},
	{"", "Abbrev caps", "Gov. Smith and Sen. Lee met at St. Mary's on Dec. 3. Nothing was decided."},
	{"", "Lower next", "It cost 3 vs. 4 euros. and then the end. Fine."},
	{"", "NBSP\u00a0and\u2003em space", "Wide\u00a0spaces\u2003between\u2009words. And\u00a0more."},
	{"", "Apostrophes", "'Twas the night. ’Tis true that rock’n’roll isn't dead, y'all'. ''' ’’ d'un l'état."},
	{"", "Digits", "Numbers 100 and ١٢٣ and ４５６ and 12a and 007 count. 1,000,000 people. 3.000 Leute."},
	{"", "Big numbers", "Hundreds of thousands of millions and billionaires; trillions, Millionen, Milliarden, milliards, millones, миллионы, миллиарды, мільйони, мільярди."},
	{"", "Every importance word", "breaking urgent eilmeldung срочно терміново última killed dead deaths died death fatalities casualties massacre tote morts muertos погибли загинули earthquakes tsunamis hurricanes explosions wildfires floods crashes erdbeben séisme terremoto землетрясения землетруси elections war invasion attacks coup resigned presidential sanctions emergency pandemic outbreak recession historic evacuated nuclear terrorists hostages"},
	{"", "Repeated importance", "war war war war attack attack attacked attackers election elections electoral"},
	{"", "Mixed categories", "The football team's coach met the president and the minister; the market reacted, the police arrested a hacker, the hospital treated the actor."},
	{"", "Tie", "film court"},
	{"", "Tie title", "court"},
	{"", "Upper-case letters ÄÖÜ ẞ", "ÄRGER ÜBER GRÖSSE. ÅSKA I SVERIGE. ÑANDÚ. ÇA VA. ÈÒÌÙ ÊÂÎÛŒ ĄĘŁŚŹŻĆŃ ЫЭЪЁ ІЇЄҐ."},
	{"", "Telltale only", "ß ä ö ü å ñ ¿ ¡ ã õ ç è ò ì ù ê â î û œ ą ę ł ś ź ż ć ń ы э ъ ё і ї є ґ"},
	{"", "Turkish İstanbul", "İSTANBUL'DA DEPREM. KELVIN \u212a signs and ǅ digraphs ǈ ǋ."},
	{"", "Emoji 🚀 news", "Rocket 🚀 launch to Mars succeeded. NASA says the satellite works ✅."},
	{"", "Invalid", "Bytes \xff\xfe inside a st\xc3ory. Then \xe2\x80 more."},
	{"", "Long title only with many words and no body at all but enough words to pass the long threshold", ""},
	{"", "Short", "x"},
	{"", strings.Repeat("Title ", 100), strings.Repeat("Police arrest the suspect in court. ", 60)},
	{"", "Over the limit", strings.Repeat("the ", 1100) + "police police police court court court judge judge"},
	{"", "Over the limit with quotes", strings.Repeat("' ", 990) + strings.Repeat("police ", 20)},
	{"", "Wahl in Bayern", "Die Wahl wurde am Sonntag abgehalten. Die Regierung ist nicht zufrieden und die Opposition auch nicht."},
	{"", "Élections en France", "Les élections législatives ont eu lieu dimanche. Le gouvernement et l'opposition sont d'accord sur les résultats, selon le ministre."},
	{"", "Elecciones en España", "Las elecciones generales se celebraron el domingo. El gobierno y la oposición están de acuerdo según el ministro."},
	{"", "Elezioni in Italia", "Le elezioni si sono svolte domenica. Il governo non è d'accordo con l'opposizione, anche se il risultato è chiaro."},
	{"", "Eleições no Brasil", "As eleições foram realizadas no domingo. O governo não está de acordo com a oposição, e também não com os juízes."},
	{"", "Verkiezingen in Nederland", "De verkiezingen werden zondag gehouden. Het kabinet is niet tevreden en de oppositie ook niet, zei de premier."},
	{"", "Выборы в России", "Выборы прошли в воскресенье. Президент заявил, что парламент уже готов, а оппозиция не согласна. Погибли 3 человека."},
	{"", "Вибори в Україні", "Вибори відбулися в неділю. Уряд заявив, що депутати вже готові, але опозиція не згодна. Загинули 2 людини."},
	{"", "Wybory w Polsce", "Wybory odbyły się w niedzielę. Rząd nie jest zadowolony, a opozycja także nie, powiedział premier."},
	{"", "Val i Sverige", "Valet hölls på söndagen. Regeringen är inte nöjd och oppositionen har också klagat, sade statsministern."},
	{"", "Erdbeben in der Türkei", "Ein schweres Erdbeben hat am Montag die Türkei erschüttert. Mindestens 100 Tote wurden gemeldet, die Polizei sucht nach Vermissten."},
	{"", "Séisme au Maroc", "Un séisme a frappé le Maroc vendredi. Les morts se comptent par milliers selon le gouvernement."},
	{"", "Terremoto en México", "Un terremoto sacudió México el martes. Hay muertos y la salud de los heridos preocupa a los médicos."},
	{"", "Землетрясение в Японии", "Сильное землетрясение произошло в Японии. Срочно: погибли десятки человек, полиция на месте."},
	{"", "Землетрус у Туреччині", "Потужний землетрус стався в Туреччині. Терміново: загинули десятки людей, поліція на місці."},
	{"", "Markets", "Stock markets rallied as the central bank cut rates; shares of banks rose and oil prices fell. GDP grew 2.1%."},
	{"", "Climate summit", "Climate negotiators at the summit agreed on emissions cuts. NATO and the UN observed. Renewables grew."},
	{"", "Netflix premiere", "The premiere of the new Netflix movie drew Hollywood celebrities. The soundtrack album tops the charts."},
	{"", "Olympics", "The Olympic marathon was won by a Kenyan athlete. The stadium was full and the medal ceremony followed."},
	{"", "Vaccine study", "A new study of the vaccine shows fewer infections. Researchers and doctors praised the results, scientists said."},
	{"", "Hackers hit bank", "Hackers stole data from a bank's online app. Police arrested two suspects, and the company's shares fell."},
	{"en", "MIXED case Keywords", "ELECTION Parliament GOVERNMENT PrEsIdEnT Minister's CEO's iPhone AI 5G NASA's."},
	{"", "Colon: and; semicolons", "First part; second part: third part. Fourth? Fifth!"},
	{"", "Sentence at 119", strings.Repeat("a", 117) + ". " + strings.Repeat("b", 177) + "."},
	{"", "Sentence at 120", strings.Repeat("a", 119) + ". " + strings.Repeat("b", 10) + "."},
	{"", "Exactly fits", strings.Repeat("a", 99) + ". " + strings.Repeat("b", 198) + "."},
	{"", "One over", strings.Repeat("a", 99) + ". " + strings.Repeat("b", 199) + "."},
	{"", "Cut at rune", strings.Repeat("ж", 200) + "."},
	{"", "Cut with punctuation", strings.Repeat("word, ", 60) + "end."},
	{"", "Cut at dash", strings.Repeat("ab - ", 70) + "end."},
	{"", "Dot then lower", "The U.S. economy grew. the end. Fin."},
	{"", "Ideographic", "中国经济增长。政府宣布新政策。市场反应积极。"},
	{"", "Number sentence", "Prices rose 5. 3 companies agreed. Done."},
	{"", "Tab\tand\nnewlines", "Line one.\nLine two.\tLine three.\r\nLine four."},
	{"", "Only spaces body", "   \n\t  "},
	{"", "", "'"},
	{"", "", "’’’’"},
	{"", "Who is WHO", "The WHO said who was who. Who's next?"},
	{"", "Prefix exactness", "un UN un-happy unhappy governor governors governo governos war wars warring warm"},
}
