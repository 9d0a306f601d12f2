package telemetry

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"newsflow/internal/buildinfo"
)

// RegisterBuildInfo registers newsflow_build_info{version,commit,goversion},
// always 1, on reg: which build each scraped process runs.
func RegisterBuildInfo(reg prometheus.Registerer) error {
	version, commit := buildinfo.Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "newsflow_build_info",
		Help:        "Always 1; the labels name the build: version, VCS commit, Go version.",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit, "goversion": buildinfo.GoVersion()},
	})
	g.Set(1)
	if err := reg.Register(g); err != nil {
		return fmt.Errorf("telemetry: register build info: %w", err)
	}
	return nil
}
