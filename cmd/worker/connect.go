package main

import (
	"github.com/spf13/pflag"

	"newsflow/internal/cli"
	"newsflow/internal/natsflag"
	"newsflow/internal/stream"
)

// natsFlags are the connection flags of the subcommands that read a stream
// (lag, dlq, top): where NATS is and which stream.
type natsFlags struct {
	natsflag.Conn
	stream string
}

func (f *natsFlags) register(fs *pflag.FlagSet) {
	f.Conn.Register(fs)
	fs.StringVar(&f.stream, "stream", stream.DefaultName, "JetStream stream holding the news")
	cli.Config(fs, "Connections", "stream")
}
