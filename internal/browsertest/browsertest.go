// Package browsertest starts the machine's Chromium, headless, for tests
// that click through a page in a real browser (github.com/chromedp/chromedp
// drives it over the DevTools protocol).
//
// It is test support; the product never imports it.
package browsertest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"newsflow/internal/workerproc"
)

// EnvPath names a Chromium binary to use instead of the machine's.
const EnvPath = "NEWSFLOW_CHROMIUM"

// candidates are where Debian's package (chromium) and others put the binary.
var candidates = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Path returns the Chromium binary: $NEWSFLOW_CHROMIUM when set, else the
// first of /usr/bin/chromium, chromium, chromium-browser, google-chrome on
// PATH.
func Path() (string, error) {
	if p := os.Getenv(EnvPath); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", err
		}
		return p, nil
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium found: install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run does) or set " + EnvPath)
}

// New starts a headless Chromium with a fresh profile and returns a
// chromedp context on a tab of it; the browser stops at the end of the
// test. The test is skipped, saying why, only when no Chromium can be
// found; a browser that is found but fails to start fails the test.
func New(t testing.TB) context.Context {
	t.Helper()
	path, err := Path()
	if err != nil {
		t.Skip("browser test skipped: " + err.Error())
	}
	profile := t.TempDir()
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Start the browser now (the first Run allocates it and must not carry
	// a deadline), so that a browser that cannot start fails here.
	start := make(chan error, 1)
	go func() { start <- chromedp.Do(ctx) }()
	select {
	case err := <-start:
		if err != nil {
			t.Fatalf("start Chromium at %s: %v", path, err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("Chromium at %s did not start within 2 minutes", path)
	}
	return ctx
}

// Artifact writes data to name under $NEWSFLOW_ARTIFACTS (default
// <module root>/artifacts, ignored by git) and returns the path.
func Artifact(t testing.TB, name string, data []byte) string {
	t.Helper()
	dir := os.Getenv("NEWSFLOW_ARTIFACTS")
	if dir == "" {
		root, err := workerproc.ModuleRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Step runs one browser action on ctx (from New) within timeout, failing
// the test with what it was for when it does not succeed.
func Step(t testing.TB, ctx context.Context, timeout time.Duration, what string, a chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := chromedp.Run(c, a); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Text returns the text of the element sel selects, within a minute.
func Text(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}
