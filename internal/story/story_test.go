package story

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"newsflow/internal/gen"
	"newsflow/internal/news"
	"newsflow/internal/redistest"
)

const quakeBody = `A magnitude 6.1 earthquake struck off the coast of northern Chile on Tuesday morning, the national seismology centre said, shaking buildings in the port city of Antofagasta and sending residents into the streets.
There were no immediate reports of casualties or serious damage, and the navy said the quake did not meet the conditions to generate a tsunami along the coast.
Officials in Santiago said emergency teams were inspecting roads, bridges and the copper mines of the region, several of which halted work as a precaution.
The region sits on the Pacific Ring of Fire, where the Nazca plate slides beneath the South American plate, and strong quakes are frequent.`

const councilBody = `The city council voted on Monday evening to expand the bus network with four new night routes, after months of complaints from shift workers who said they could not get home after the last trains.
The plan, which passed by a wide margin, will be paid for by a small rise in parking fees in the centre and will start in the spring, the transport committee said.
Opponents argued that the money would be better spent on repairing the existing fleet, much of which is more than a decade old.`

// pair is two articles and whether they must be one story.
type pair struct {
	name  string
	a, b  news.Message
	merge bool
}

func msg(title, body string) news.Message {
	return news.Message{ID: title, Source: "s", Title: title, Body: body}
}

func pairs() []pair {
	lines := strings.Split(quakeBody, "\n")
	truncated := strings.Join(lines[:3], "\n") + "\nRead more: https://news.example.com/quake-chile-6-1"
	typo := strings.Replace(quakeBody, "residents into the streets", "residnets into the streets", 1)
	rate := func(v string) string {
		return "The central bank set the official dollar exchange rate for Wednesday at " + v + " roubles, the regulator said on its website.\nSubscribe: @moneychannel"
	}
	score := func(a, b string) string {
		return "Spartak beat Zenit " + a + "-" + b + " in Sunday's league match in Moscow, with the winning goal coming in added time.\n📢 t.me/sportsfeed"
	}
	return []pair{
		{"signature", msg("Earthquake hits northern Chile", quakeBody), msg("Earthquake hits northern Chile", quakeBody+"\n\nSubscribe: @chilenews"), true},
		{"channel footer", msg("Earthquake hits northern Chile", quakeBody), msg("Earthquake hits northern Chile", quakeBody+"\n📢 t.me/worldwire | #news"), true},
		{"breaking prefix", msg("Earthquake hits northern Chile", quakeBody), msg("BREAKING: Earthquake hits northern Chile", quakeBody), true},
		{"emoji prefix", msg("Earthquake hits northern Chile", quakeBody), msg("🔴⚡ Earthquake hits northern Chile", quakeBody), true},
		{"truncated with read more", msg("Earthquake hits northern Chile", quakeBody), msg("Earthquake hits northern Chile", truncated), true},
		{"typo fix", msg("Earthquake hits northern Chile", typo), msg("Earthquake hits northern Chile", quakeBody), true},
		{"headline rewrite", msg("Earthquake hits northern Chile", quakeBody), msg("Strong quake shakes Antofagasta, no tsunami expected", quakeBody), true},
		{"quote and space style", msg(`Council: "more night buses"`, councilBody), msg("Council: «more night buses»", strings.ReplaceAll(strings.ReplaceAll(councilBody, ", ", " ,  "), "'", "’")), true},
		{"typo next to a number", msg("Earthquake hits northern Chile", quakeBody), msg("Earthquake hits northern Chile", strings.Replace(quakeBody, "magnitude 6.1", "magnitdue 6.1", 1)), true},
		{"short post with signature", msg("", "Dollar rate set at 92.45 roubles for Wednesday by the central bank"), msg("", "Dollar rate set at 92.45 roubles for Wednesday by the central bank\nSubscribe: @moneychannel"), true},

		{"exchange rate differs", msg("", rate("92.45")), msg("", rate("92.75")), false},
		{"score swapped", msg("", score("2", "1")), msg("", score("1", "2")), false},
		{"date differs", msg("Weather", "Heavy snow is expected in the capital on March 3, with up to 20 cm falling overnight and temperatures down to minus 12, forecasters said."),
			msg("Weather", "Heavy snow is expected in the capital on March 4, with up to 20 cm falling overnight and temperatures down to minus 12, forecasters said."), false},
		{"time differs", msg("", "The metro's red line will close at 21:30 tonight for repairs to the tunnel near the central station, the operator said on Monday."),
			msg("", "The metro's red line will close at 22:30 tonight for repairs to the tunnel near the central station, the operator said on Monday."), false},
		{"casualties differ", msg("", strings.Replace(quakeBody, "There were no immediate reports of casualties", "At least 12 people were killed", 1)),
			msg("", strings.Replace(quakeBody, "There were no immediate reports of casualties", "At least 14 people were killed", 1)), false},
		{"toll differs with signature", msg("", "The death toll from the floods rose to 31 on Friday, the emergencies ministry said, as rescuers searched for the missing.\nSubscribe: @wirefeed"),
			msg("", "The death toll from the floods rose to 34 on Friday, the emergencies ministry said, as rescuers searched for the missing.\nSubscribe: @wirefeed"), false},
		{"place differs", msg("", strings.ReplaceAll(quakeBody, "Antofagasta", "Iquique")), msg("", quakeBody), false},
		{"person differs", msg("", "Police said the minister, Carlos Ruiz, resigned on Monday after the report into the contract was published, and his deputy will take over until an election."),
			msg("", "Police said the minister, Ana Torres, resigned on Monday after the report into the contract was published, and her deputy will take over until an election."), false},
		{"same boilerplate, other story", msg("", "Parliament approved the new budget on Thursday after a long debate over pensions.\nSubscribe to Daily Wire: @dailywire\nOur website: https://dailywire.example"),
			msg("", "A fire broke out in a warehouse near the harbour overnight; firefighters contained it by dawn.\nSubscribe to Daily Wire: @dailywire\nOur website: https://dailywire.example"), false},
		{"other story", msg("Earthquake hits northern Chile", quakeBody), msg("Council adds night buses", councilBody), false},
	}
}

func TestCompare_Pairs(t *testing.T) {
	t.Parallel()
	for _, p := range pairs() {
		t.Run(p.name, func(t *testing.T) {
			a, b := Extract(p.a.Title, p.a.Body), Extract(p.b.Title, p.b.Body)
			kind, guard, m := Compare(&a, &b, DefaultThreshold)
			if got := kind != Founded; got != p.merge {
				t.Errorf("Compare = %s (guard %s, %d/%d agree, shingles %d/%d), want merge %v", kind, guard, m, Bins, a.Shingles, b.Shingles, p.merge)
			}
			if k2, _, _ := Compare(&b, &a, DefaultThreshold); k2 != kind {
				t.Errorf("Compare is not symmetric: %s and %s", kind, k2)
			}
		})
	}
}

// assignPair runs a pair through an identifier, in one batch or two, and
// reports whether both got one story id.
func assignPair(t *testing.T, id *Identifier, p pair, oneBatch bool) bool {
	t.Helper()
	rows := []news.Article{{Message: p.a}, {Message: p.b}}
	if oneBatch {
		id.Assign(t.Context(), rows)
	} else {
		id.Assign(t.Context(), rows[:1])
		id.Assign(t.Context(), rows[1:])
	}
	if rows[0].StoryID != rows[0].ContentHash {
		t.Fatalf("first article's story id %s is not its content hash", rows[0].StoryID)
	}
	return rows[0].StoryID == rows[1].StoryID
}

func TestIdentifier_Pairs(t *testing.T) {
	t.Parallel()
	rdb := redistest.Client(t)
	for _, index := range []string{"memory", "redis"} {
		for _, oneBatch := range []bool{true, false} {
			for _, p := range pairs() {
				name := index + "/" + map[bool]string{true: "one batch", false: "two batches"}[oneBatch] + "/" + p.name
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					cfg := Config{}
					var id *Identifier
					var err error
					if index == "redis" {
						cfg.KeyPrefix = redistest.Prefix(t, rdb)
						id, err = New(cfg, rdb, nil, prometheus.NewRegistry())
					} else {
						id, err = New(cfg, nil, nil, nil)
					}
					if err != nil {
						t.Fatal(err)
					}
					defer id.Close()
					if got := assignPair(t, id, p, oneBatch); got != p.merge {
						t.Errorf("same story id = %v, want %v", got, p.merge)
					}
					if id.Degraded() {
						t.Error("degraded")
					}
				})
			}
		}
	}
}

func TestIdentifier_Off(t *testing.T) {
	t.Parallel()
	id, err := New(Config{Off: true}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	p := pairs()[0]
	if assignPair(t, id, p, true) {
		t.Error("near duplicates share a story id with near-dup off")
	}
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{{Threshold: 1.5}, {Threshold: -0.1}, {Window: 1}} {
		if _, err := New(c, nil, nil, nil); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	_ = context.Background
}

// TestIdentifier_MemoryBounded: the in-process index holds at most two
// generations of MaxMemory articles; a full generation becomes the previous
// one, whose stories stay joinable, and older ones are dropped.
func TestIdentifier_MemoryBounded(t *testing.T) {
	t.Parallel()
	id, err := New(Config{MaxMemory: 4}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	assign := func(m news.Message) news.Article {
		rows := []news.Article{{Message: m}}
		id.Assign(t.Context(), rows)
		return rows[0]
	}
	for s := range 40 {
		vs := variants(s, 3)
		first := assign(vs[0])
		for _, v := range vs[1:] {
			if got := assign(v); got.StoryID != first.ContentHash {
				t.Fatalf("story %d: variant %s founded its own story in a bounded index", s, v.ID)
			}
		}
		if n := id.mem.size(); n > 2*4 {
			t.Fatalf("after story %d the index holds %d articles, want at most %d", s, n, 2*4)
		}
	}
	// The first story's articles are long gone: a variant of it founds anew.
	if got := assign(variants(0, 4)[3]); got.StoryID != got.ContentHash {
		t.Error("a variant of a dropped story joined it")
	}
}

// TestMemoryBytes: the bounds cover two generations, and 0 means the
// default.
func TestMemoryBytes(t *testing.T) {
	if got, want := MemoryBytes(0), MemoryBytes(DefaultMaxMemory); got != want {
		t.Errorf("MemoryBytes(0) = %d, want MemoryBytes(DefaultMaxMemory) = %d", got, want)
	}
	if got, want := MemoryBytes(1000), int64(2*(1000*memoryBytesPerArticle+generationBytes)); got != want {
		t.Errorf("MemoryBytes(1000) = %d, want %d", got, want)
	}
	if got, want := HeapBytes(0), HeapBytes(DefaultMaxMemory); got != want {
		t.Errorf("HeapBytes(0) = %d, want HeapBytes(DefaultMaxMemory) = %d", got, want)
	}
	wantHeap := int64(2 * (1000*heapBytesPerArticle + generationHeapBytes))
	if !mapsMemory {
		wantHeap = MemoryBytes(1000)
	}
	if got, want := HeapBytes(1000), wantHeap; got != want {
		t.Errorf("HeapBytes(1000) = %d, want %d", got, want)
	}
}

// TestIdentifier_NextGenerationSizedLikeLast: a generation that follows a
// full one starts with a bucket table as large as that one's, so it does not
// grow from empty, and the index still joins variants across the turn.
func TestIdentifier_NextGenerationSizedLikeLast(t *testing.T) {
	t.Parallel()
	const max = 1500
	id, err := New(Config{MaxMemory: max}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	var rotated bool
	for s := 0; !rotated; s++ {
		vs := variants(s, 2)
		rows := []news.Article{{Message: vs[0]}, {Message: vs[1]}}
		before := id.mem.cur
		id.Assign(t.Context(), rows)
		if rows[1].StoryID != rows[0].ContentHash {
			t.Fatalf("story %d: its variant founded its own story", s)
		}
		if id.mem.cur != before && id.mem.prev == before {
			rotated = true
			id.mem.mu.Lock()
			// The rotation happened before this batch was assigned: the new
			// generation holds at most its two articles.
			got, want := len(id.mem.cur.buckets.slots), len(before.buckets.slots)
			id.mem.mu.Unlock()
			if got != want {
				t.Errorf("the generation after a full one has %d bucket slots, want %d as the full one", got, want)
			}
		}
		if s > 10*max {
			t.Fatal("the index never turned over")
		}
	}
}

// TestMemoryBytesPerArticle_Bound: the memory the in-process index holds,
// its live heap and its mappings, stays within memoryBytesPerArticle per
// article, and its live heap within heapBytesPerArticle, on the generated
// stream
// (unrelated stories sharing few shingles, as real news: nearly every band
// is a bucket of its own), measured after every 1,000 articles from 10,000 on,
// so also just after the bucket table doubles.
func TestMemoryBytesPerArticle_Bound(t *testing.T) {
	// Not parallel: it measures the heap and the mappings, which parallel
	// tests would share.
	if testing.Short() {
		t.Skip("assigns 60,000 articles")
	}
	rows := genArticles(t, 60_000)
	heapBound := float64(heapBytesPerArticle)
	if !mapsMemory { // all of it is on the heap
		heapBound = memoryBytesPerArticle
	}
	liveHeap := func() int64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	baseHeap, baseMapped := liveHeap(), mappedBytes.Load()
	id, err := New(Config{}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	most, mostHeap := 0.0, 0.0
	for start := 0; start < len(rows); start += 100 {
		id.Assign(t.Context(), rows[start:start+100])
		if n := start + 100; n >= 10_000 && n%1000 == 0 {
			heap := float64(liveHeap()-baseHeap) / float64(n)
			most = max(most, heap+float64(mappedBytes.Load()-baseMapped)/float64(n))
			mostHeap = max(mostHeap, heap)
		}
	}
	t.Logf("most memory per article: %.0f bytes (bound %d), of it on the heap %.0f (bound %.0f)", most, memoryBytesPerArticle, mostHeap, heapBound)
	if most > memoryBytesPerArticle {
		t.Errorf("the in-process index held %.0f bytes per article, more than memoryBytesPerArticle = %d: MemoryBytes is no longer a bound", most, memoryBytesPerArticle)
	}
	if mostHeap > heapBound {
		t.Errorf("the in-process index held %.0f bytes of heap per article, more than %.0f: HeapBytes is no longer a bound", mostHeap, heapBound)
	}
}

// genArticles returns n generated 1 KiB articles (gen.New, seed 3).
func genArticles(t *testing.T, n int) []news.Article {
	g, err := gen.New(gen.Config{Seed: 3, BodyBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]news.Article, n)
	for i := range rows {
		rows[i] = news.Article{Message: g.Next()}
	}
	return rows
}

// TestMemoryBytes_SmallIndex: MemoryBytes and HeapBytes bound small indexes
// too, whose memory is mostly what a generation holds from its first
// article on (a member chunk, a hash chunk, a bucket table rounded up to a
// huge page or on the heap), not their articles' share.
func TestMemoryBytes_SmallIndex(t *testing.T) {
	// Not parallel: it measures the heap and the mappings, which parallel
	// tests would share.
	rows := genArticles(t, 3000)
	liveHeap := func() int64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	for _, maxMemory := range []int{100, 500, 1000} {
		baseHeap, baseMapped := liveHeap(), mappedBytes.Load()
		id, err := New(Config{MaxMemory: maxMemory}, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var most, mostHeap int64
		for start := 0; start < len(rows); start += 100 {
			id.Assign(t.Context(), rows[start:start+100])
			heap := liveHeap() - baseHeap
			most, mostHeap = max(most, heap+mappedBytes.Load()-baseMapped), max(mostHeap, heap)
		}
		id.Close()
		t.Logf("MaxMemory %d: most memory %d bytes (MemoryBytes %d), of it on the heap %d (HeapBytes %d)", maxMemory, most, MemoryBytes(maxMemory), mostHeap, HeapBytes(maxMemory))
		if most > MemoryBytes(maxMemory) {
			t.Errorf("an index of MaxMemory %d held %d bytes, more than MemoryBytes = %d", maxMemory, most, MemoryBytes(maxMemory))
		}
		if mostHeap > HeapBytes(maxMemory) {
			t.Errorf("an index of MaxMemory %d held %d bytes of heap, more than HeapBytes = %d", maxMemory, mostHeap, HeapBytes(maxMemory))
		}
	}
}
