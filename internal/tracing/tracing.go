package tracing

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"newsflow/internal/buildinfo"
)

// Scope is the instrumentation scope of newsflow's spans.
const Scope = "newsflow"

// FlushTimeout bounds Flush: how long exiting waits for the last spans to
// be exported.
const FlushTimeout = 5 * time.Second

// The standard variables Setup reads itself; the exporters read
// OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout, TLS) and the SDK reads
// OTEL_TRACES_SAMPLER(_ARG), OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
const (
	envExporter       = "OTEL_TRACES_EXPORTER"
	envProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	envSampler        = "OTEL_TRACES_SAMPLER"
	envSamplerArg     = "OTEL_TRACES_SAMPLER_ARG"
)

// provider is the SDK provider Setup installed; nil while tracing is off.
var provider atomic.Pointer[sdktrace.TracerProvider]

// Setup configures tracing for the program named service (the default of
// OTEL_SERVICE_NAME) from the standard environment, and reports whether it
// is on:
//
//	OTEL_TRACES_EXPORTER          otlp | console | none (default none: off)
//	OTEL_EXPORTER_OTLP_PROTOCOL   http/protobuf (default) | grpc
//	OTEL_EXPORTER_OTLP_ENDPOINT   and the other OTEL_EXPORTER_OTLP_* (the exporter reads them)
//	OTEL_TRACES_SAMPLER(_ARG)     e.g. parentbased_traceidratio and 0.01 (default parentbased_always_on)
//	OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
//
// The console exporter writes to console (stderr in the programs). When on,
// Setup installs the provider and the W3C propagator as OpenTelemetry's
// globals. A bad value is a one-line error naming the variable.
func Setup(ctx context.Context, service string, console io.Writer) (bool, error) {
	exp, err := newExporter(ctx, console)
	if err != nil || exp == nil {
		return false, err
	}
	if err := checkSampler(); err != nil {
		return false, err
	}
	version, _ := buildinfo.Get()
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service),
			attribute.String("service.version", version)),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil {
		return false, fmt.Errorf("tracing: OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagator)
	provider.Store(tp)
	return true, nil
}

// newExporter returns the exporter OTEL_TRACES_EXPORTER names, or nil for none.
func newExporter(ctx context.Context, console io.Writer) (sdktrace.SpanExporter, error) {
	switch name := strings.TrimSpace(os.Getenv(envExporter)); name {
	case "", "none":
		return nil, nil
	case "console":
		return stdouttrace.New(stdouttrace.WithWriter(console))
	case "otlp":
		proto := cmpEnv(envTracesProtocol, envProtocol)
		switch proto {
		case "", "http/protobuf":
			return otlptracehttp.New(ctx)
		case "grpc":
			return otlptracegrpc.New(ctx)
		default:
			return nil, fmt.Errorf("tracing: %s=%q is not supported; use http/protobuf or grpc", envProtocol, proto)
		}
	default:
		return nil, fmt.Errorf("tracing: %s=%q is not supported; use otlp, console or none", envExporter, name)
	}
}

// checkSampler rejects what the SDK would only warn about and replace by
// its default.
func checkSampler() error {
	name := strings.TrimSpace(os.Getenv(envSampler))
	switch name {
	case "", "always_on", "always_off", "parentbased_always_on", "parentbased_always_off":
		return nil
	case "traceidratio", "parentbased_traceidratio":
		arg := strings.TrimSpace(os.Getenv(envSamplerArg))
		if arg == "" {
			return nil // the SDK's default ratio, 1
		}
		if r, err := strconv.ParseFloat(arg, 64); err != nil || r < 0 || r > 1 {
			return fmt.Errorf("tracing: %s=%q must be a ratio from 0 to 1 (e.g. 0.01)", envSamplerArg, arg)
		}
		return nil
	default:
		return fmt.Errorf("tracing: %s=%q is not supported; use parentbased_traceidratio (with %s), always_on, always_off or their parentbased_ forms",
			envSampler, name, envSamplerArg)
	}
}

func cmpEnv(keys ...string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(os.Getenv(k)); v != "" {
			return v
		}
	}
	return ""
}

// Enabled reports whether Setup turned tracing on.
func Enabled() bool { return provider.Load() != nil }

// Flush exports the spans still buffered and stops the exporter, waiting
// at most FlushTimeout. It does nothing when tracing is off.
func Flush() error {
	tp := provider.Swap(nil)
	if tp == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), FlushTimeout)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: flush spans: %w", err)
	}
	return nil
}

// Tracer returns tp's newsflow tracer; with a nil tp, the global provider's
// when tracing is on, else nil (no spans at all).
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		if p := provider.Load(); p != nil {
			return p.Tracer(Scope)
		}
		return nil
	}
	return tp.Tracer(Scope)
}

// noSpan is the span the helpers return when they start none. Ending it,
// or setting anything on it, does nothing.
var noSpan = trace.SpanFromContext(context.Background())

// Active reports whether Start would start a span under ctx: the span in
// ctx records, or tracing is on. Check it before building a span's name
// or options that cost something.
func Active(ctx context.Context) bool {
	return trace.SpanFromContext(ctx).IsRecording() || provider.Load() != nil
}

// Start starts a span of kind: a child of the recording span in ctx (from
// that span's own provider), else, when tracing is on, a span of the global
// provider (a root, or a child of a remote parent in ctx). Otherwise it
// returns ctx and a span that does nothing, without allocating. Set
// attributes and links on the span once it records (IsRecording).
func Start(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	if parent := trace.SpanFromContext(ctx); parent.IsRecording() {
		return parent.TracerProvider().Tracer(Scope).Start(ctx, name, trace.WithSpanKind(kind))
	}
	if p := provider.Load(); p != nil {
		return p.Tracer(Scope).Start(ctx, name, trace.WithSpanKind(kind))
	}
	return ctx, noSpan
}

// Child starts an internal child of the span in ctx only when that span
// records (it was sampled); otherwise it returns ctx and a span that does
// nothing, without allocating. Stages use it for the steps of a batch: they
// trace only inside a traced batch.
func Child(ctx context.Context, name string) (context.Context, trace.Span) {
	if parent := trace.SpanFromContext(ctx); parent.IsRecording() {
		return parent.TracerProvider().Tracer(Scope).Start(ctx, name)
	}
	return ctx, noSpan
}

// Fail marks span failed with err (when it records and err is not nil).
func Fail(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
}

// LogErrors sends OpenTelemetry's own errors (an export that failed: the
// collector is down) to log, at most one line per minute with the count
// since the last, instead of the SDK's unstructured lines on stderr.
func LogErrors(log *zap.Logger) {
	var (
		mu      sync.Mutex
		last    time.Time
		dropped int
	)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if now := time.Now(); now.Sub(last) >= time.Minute {
			log.Warn("tracing: spans not exported", zap.Int("errors_since_last", dropped), zap.Error(err))
			last, dropped = now, 0
			return
		}
		dropped++
	}))
}
