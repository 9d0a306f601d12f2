package llm_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"newsflow/internal/llm"
	"newsflow/internal/news"
)

func TestOffline_Deterministic(t *testing.T) {
	t.Parallel()
	p := llm.NewOffline()
	m := news.Message{ID: "1", Source: "s", Title: "Breaking: earthquake kills 12 in Chile",
		Body: "A magnitude 7.1 earthquake struck northern Chile on Monday. At least 12 people were killed, officials said. Rescue teams are searching the rubble."}
	first, err := p.Enrich(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, err := p.Enrich(t.Context(), m)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(first, again); d != "" {
			t.Fatalf("offline enrichment changed (-first +again):\n%s", d)
		}
	}
	want := llm.Result{Enrichment: news.Enrichment{
		Summary:    "A magnitude 7.1 earthquake struck northern Chile on Monday. At least 12 people were killed, officials said.",
		Category:   "environment",
		Importance: first.Enrichment.Importance,
		Language:   "en",
		Model:      "offline/v1",
	}}
	if d := cmp.Diff(want, first); d != "" {
		t.Errorf("offline enrichment (-want +got):\n%s", d)
	}
	if first.Enrichment.Importance < 70 {
		t.Errorf("importance of a deadly breaking earthquake = %d, want ≥ 70", first.Enrichment.Importance)
	}
	if p.Model() != "offline/v1" {
		t.Errorf("Model() = %q", p.Model())
	}
}

func TestOffline_Language(t *testing.T) {
	t.Parallel()
	tests := []struct{ want, title, body string }{
		{"en", "Government announces new budget", "The finance minister said on Tuesday that the plan will be presented to parliament after the summer break."},
		{"de", "Regierung stellt neuen Haushalt vor", "Der Finanzminister sagte am Dienstag, dass der Plan nach der Sommerpause dem Parlament vorgelegt wird."},
		{"fr", "Le gouvernement présente un nouveau budget", "Le ministre des Finances a déclaré mardi que le plan sera présenté au parlement après la pause estivale."},
		{"es", "El gobierno presenta un nuevo presupuesto", "El ministro de Hacienda dijo el martes que el plan será presentado al parlamento después de las vacaciones de verano."},
		{"it", "Il governo presenta una nuova manovra", "Il ministro dell'Economia ha detto martedì che il piano sarà presentato al parlamento dopo la pausa estiva."},
		{"pt", "O governo apresenta um novo orçamento", "O ministro das Finanças disse na terça-feira que o plano será apresentado ao parlamento depois das férias de verão."},
		{"nl", "Regering presenteert nieuwe begroting", "De minister van Financiën zei dinsdag dat het plan na het zomerreces aan het parlement wordt voorgelegd."},
		{"ru", "Правительство представило новый бюджет", "Министр финансов заявил во вторник, что план будет представлен парламенту после летних каникул."},
		{"uk", "Уряд представив новий бюджет", "Міністр фінансів заявив у вівторок, що план буде представлено парламенту після літніх канікул."},
		{"pl", "Rząd przedstawia nowy budżet", "Minister finansów powiedział we wtorek, że plan zostanie przedstawiony w parlamencie po przerwie wakacyjnej."},
		{"sv", "Regeringen presenterar en ny budget", "Finansministern sade på tisdagen att planen kommer att läggas fram för riksdagen efter sommaruppehållet."},
		{"en", "", "Storm hits the coast and thousands lose power."},
	}
	for _, tt := range tests {
		m := news.Message{ID: "1", Source: "s", Title: tt.title, Body: tt.body}
		if got := llm.OfflineEnrichment(m).Language; got != tt.want {
			t.Errorf("language of %q = %q, want %q", tt.title+" "+tt.body, got, tt.want)
		}
	}
	// Nothing to go on: the publisher's tag, else "en".
	for lang, want := range map[string]string{"": "en", "fi": "fi", "pt-br": "pt"} {
		m := news.Message{ID: "1", Source: "s", Title: "12345", Lang: lang}
		if got := llm.OfflineEnrichment(m).Language; got != want {
			t.Errorf("language of a number with lang %q = %q, want %q", lang, got, want)
		}
	}
}

func TestOffline_Category(t *testing.T) {
	t.Parallel()
	tests := []struct{ want, title, body string }{
		{"politics", "Senate passes election reform", "Lawmakers voted 52-48 after a long campaign by the opposition."},
		{"world", "NATO summit opens amid border tensions", "Diplomats from 30 countries discussed sanctions and a ceasefire."},
		{"business", "Shares slide as inflation bites", "Investors sold stocks after the company cut its profit forecast."},
		{"technology", "New smartphone chip unveiled", "The software update brings AI features to Android apps."},
		{"science", "Telescope spots water on distant planet", "Researchers say the discovery could change astronomy."},
		{"health", "Hospitals brace for flu outbreak", "Doctors urge patients to get vaccinated before winter."},
		{"sports", "Striker scores twice as team wins the cup", "The championship final drew a record crowd to the stadium."},
		{"entertainment", "Singer announces world tour and new album", "The Grammy winner will also appear in a Netflix film."},
		{"environment", "Wildfire and drought blamed on climate change", "Carbon emissions keep rising, scientists warn, as forests burn."},
		{"crime", "Police arrest suspect in murder case", "The man was charged and will stand trial in court next month."},
		{"other", "Local bakery celebrates anniversary", "Customers lined up for free croissants on Saturday."},
		{"sports", "Bundesliga: Bayern gewinnt Fußball-Krimi", "Der Trainer lobte die Mannschaft nach dem Match."},
	}
	for _, tt := range tests {
		m := news.Message{ID: "1", Source: "s", Title: tt.title, Body: tt.body}
		if got := llm.OfflineEnrichment(m).Category; got != tt.want {
			t.Errorf("category of %q = %q, want %q", tt.title, got, tt.want)
		}
	}
}

func TestOffline_Summary(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("word ", 200)
	tests := []struct{ name, title, body, want string }{
		{"two short sentences", "T", "First one. Second one. Third one.", "First one. Second one."},
		{"title when no body", "Just a headline", "", "Just a headline"},
		{"abbreviation", "T", "Dr. Smith met Mr. Jones in the U.S. on Monday. They talked.", "Dr. Smith met Mr. Jones in the U.S. on Monday. They talked."},
		{"decimal", "T", "Growth hit 2.5 percent in May! Analysts were surprised.", "Growth hit 2.5 percent in May! Analysts were surprised."},
		{"long first sentence alone", "T", strings.Repeat("x", 150) + ". " + strings.Repeat("Y", 200) + ".", strings.Repeat("x", 150) + "."},
		{"white space collapsed", "T", "  Spread\n\nout   text.  ", "Spread out text."},
	}
	for _, tt := range tests {
		m := news.Message{ID: "1", Source: "s", Title: tt.title, Body: tt.body}
		if got := llm.OfflineEnrichment(m).Summary; got != tt.want {
			t.Errorf("%s: summary = %q, want %q", tt.name, got, tt.want)
		}
	}
	got := llm.OfflineEnrichment(news.Message{ID: "1", Source: "s", Body: long}).Summary
	if len(got) > 300 || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("overlong sentence summarised as %d bytes %q, want ≤ 300 ending in …", len(got), got)
	}
}

func TestOffline_Importance(t *testing.T) {
	t.Parallel()
	score := func(title, body string) int {
		return llm.OfflineEnrichment(news.Message{ID: "1", Source: "s", Title: title, Body: body}).Importance
	}
	trivial := score("Cat naps", "A cat took a nap.")
	major := score("BREAKING: Earthquake kills thousands", "A magnitude 7.8 earthquake killed more than 2,000 people; the president declared a state of emergency. "+strings.Repeat("Rescue work goes on. ", 30))
	if trivial >= 30 || major < 90 || major > 100 || trivial < 0 {
		t.Errorf("importance trivial = %d (want < 30), major = %d (want 90–100)", trivial, major)
	}
	if e := score("Election results", "The election was held on Sunday and votes are being counted across the country."); e <= trivial {
		t.Errorf("election importance %d not above trivial %d", e, trivial)
	}
}
