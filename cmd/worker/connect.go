package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"newsflow/internal/embedded"
)

// natsFlags are the connection flags every NATS-using subcommand shares.
type natsFlags struct {
	url     string
	dataDir string
	stream  string
}

func (f *natsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "nats-url", "", "NATS server URL; empty means the embedded server of a worker running with the same --data-dir")
	fs.StringVar(&f.dataDir, "data-dir", "./data", "directory of the embedded mode's state (JetStream store, SQLite file, nats.url)")
	fs.StringVar(&f.stream, "stream", "NEWS", "JetStream stream holding the news")
}

// connect dials NATS at --nats-url or, when that is empty, the embedded
// server a worker advertised in --data-dir.
func (f *natsFlags) connect(ctx context.Context, log *zap.Logger, name string) (*nats.Conn, jetstream.JetStream, error) {
	url := f.url
	if url == "" {
		var err error
		if url, err = embedded.DiscoverNATSURL(f.dataDir); err != nil {
			return nil, nil, err
		}
		log.Info("using embedded NATS server", zap.String("data_dir", f.dataDir))
	}
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w", redactURL(url), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	_ = ctx
	return nc, js, nil
}
