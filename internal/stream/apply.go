package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Difference is one setting in which an existing stream differs from the
// configuration a program wants.
type Difference struct {
	Field string // the setting, e.g. "max_bytes"
	Have  string // the stream's value
	Want  string // the program's value
}

func (d Difference) String() string {
	return d.Field + ": stream has " + d.Have + ", flags want " + d.Want
}

// Diff lists the settings newsflow manages in which have differs from
// want: subjects, retention, discard policy, limits, duplicate window,
// storage and replicas. Unlimited is -1 or 0 alike.
func Diff(have, want jetstream.StreamConfig) []Difference {
	var d []Difference
	add := func(field string, h, w any) {
		if fmt.Sprint(h) != fmt.Sprint(w) {
			d = append(d, Difference{field, fmt.Sprint(h), fmt.Sprint(w)})
		}
	}
	hs, ws := slices.Clone(have.Subjects), slices.Clone(want.Subjects)
	slices.Sort(hs)
	slices.Sort(ws)
	add("subjects", strings.Join(hs, ","), strings.Join(ws, ","))
	add("retention", have.Retention, want.Retention)
	add("discard", have.Discard, want.Discard)
	add("max_age", duration(have.MaxAge), duration(want.MaxAge))
	add("max_bytes", limit(have.MaxBytes), limit(want.MaxBytes))
	add("max_msgs", limit(have.MaxMsgs), limit(want.MaxMsgs))
	add("max_msg_size", limit(int64(have.MaxMsgSize)), limit(int64(want.MaxMsgSize)))
	if want.Duplicates > 0 {
		add("duplicate_window", duration(have.Duplicates), duration(want.Duplicates))
	}
	add("storage", have.Storage, want.Storage)
	add("replicas", max(have.Replicas, 1), max(want.Replicas, 1))
	return d
}

func limit(v int64) string {
	if v <= 0 {
		return "unlimited"
	}
	return strconv.FormatInt(v, 10)
}

func duration(v time.Duration) string {
	if v <= 0 {
		return "unlimited"
	}
	return v.String()
}

// Apply makes sure the stream want.Name exists. A missing stream is created
// with want. An existing one whose settings differ (Diff) is left as it is
// and the differences are logged, unless update is set: then it is updated
// to want. Stream settings so have one owner: whoever applies them on
// purpose (`worker stream apply`, --stream-update), not every program that
// starts with its own flags. Apply returns the stream and the differences
// it found (applied or not).
func Apply(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, update bool, log *zap.Logger) (jetstream.Stream, []Difference, error) {
	if log == nil {
		log = zap.NewNop()
	}
	s, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, want)
		if err == nil {
			log.Info("stream created", zap.String("stream", want.Name), zap.Strings("subjects", want.Subjects))
			return s, nil, nil
		}
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil, nil, fmt.Errorf("stream: create %s: %w", want.Name, err)
		}
		s, err = js.Stream(ctx, want.Name) // created by another program meanwhile
	}
	if err != nil {
		return nil, nil, fmt.Errorf("stream: look up %s: %w", want.Name, err)
	}
	diff := Diff(s.CachedInfo().Config, want)
	if len(diff) == 0 {
		return s, nil, nil
	}
	fields := make([]string, len(diff))
	for i, d := range diff {
		fields[i] = d.String()
	}
	if !update {
		log.Warn("stream settings differ from these flags; keeping the stream's (apply them with `worker stream apply` or --stream-update)",
			zap.String("stream", want.Name), zap.Strings("differences", fields))
		return s, diff, nil
	}
	s, err = js.UpdateStream(ctx, want)
	if err != nil {
		return nil, diff, fmt.Errorf("stream: update %s (%s): %w", want.Name, strings.Join(fields, "; "), err)
	}
	log.Warn("stream settings updated", zap.String("stream", want.Name), zap.Strings("differences", fields))
	return s, diff, nil
}
