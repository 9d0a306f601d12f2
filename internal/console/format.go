package console

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// funcs are the templates' formatters: every number leaves with its unit.
var funcs = template.FuncMap{
	"count":    formatCount,
	"rate":     func(v float64) string { return formatCount(v) + " msg/s" },
	"seconds":  formatSeconds,
	"percent":  func(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + " %" },
	"bytes":    formatBytes,
	"time":     formatTime,
	"ago":      formatAgo,
	"join":     strings.Join,
	"hintText": formatHint,
}

// formatCount prints a count or rate: whole numbers below 10,000 as they are,
// fractions with one decimal, larger ones as 12.3k or 4.5M.
func formatCount(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// formatSeconds prints a duration in seconds as "850 ms", "42 s", "3 min 5 s"
// or "2 h 10 min"; a negative one (unknown) as "unknown".
func formatSeconds(s float64) string {
	switch {
	case s < 0:
		return "unknown"
	case s == 0:
		return "0 s"
	case s < 1:
		return strconv.FormatFloat(s*1000, 'f', 0, 64) + " ms"
	case s < 60:
		return strconv.FormatFloat(s, 'f', 0, 64) + " s"
	case s < 3600 && int(s)%60 == 0:
		return fmt.Sprintf("%d min", int(s)/60)
	case s < 3600:
		return fmt.Sprintf("%d min %d s", int(s)/60, int(s)%60)
	}
	return fmt.Sprintf("%d h %d min", int(s)/3600, int(s)%3600/60)
}

func formatBytes(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.Itoa(n) + " B"
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func formatAgo(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return formatSeconds(max(now.Sub(t).Seconds(), 0)) + " ago"
}

func formatHint(v float64) string {
	if v == 1 {
		return "1 worker"
	}
	return formatCount(v) + " workers"
}
