package worker

import (
	"errors"

	"newsflow/internal/llm"
	"newsflow/internal/news"
	"newsflow/internal/store"
)

// action is what the pipeline does with a message whose processing ended
// with an error. classify is the one place that decides it; the stages
// return errors that carry data and do not decide.
type action int

const (
	// ack: the message is committed; acknowledge it.
	ack action = iota
	// retryLater: the story failed, not a dependency (the LLM rejected this
	// request or answered off-schema). Nak it with the consumer's backoff
	// for its delivery count; its last allowed delivery dead-letters it.
	retryLater
	// holdWhileDown: a dependency is down or overloaded (database
	// unreachable, LLM 5xx/429/timeouts, breaker open, API key rejected).
	// Keep the message (the consumer sends in-progress acks) and retry in
	// process with backoff until the dependency returns or shutdown.
	holdWhileDown
	// deadLetter: the data is bad and retrying cannot help (undecodable
	// message, row the database rejects). Publish it to the dead-letter
	// stream with the reason, then terminate it.
	deadLetter
)

func (a action) String() string {
	return [...]string{"ack", "retry later", "hold while down", "dead-letter"}[a]
}

// classify decides what happens to a message that failed with err.
func classify(err error) action {
	var (
		decodeErr *news.DecodeError
		dataErr   *store.DataError
		statusErr *llm.StatusError
		parseErr  *llm.ParseError
	)
	switch {
	case err == nil:
		return ack
	case errors.As(err, &decodeErr), errors.As(err, &dataErr):
		return deadLetter
	case errors.As(err, &statusErr):
		if statusErr.ServiceFault() {
			return holdWhileDown
		}
		return retryLater // a 4xx about this request
	case errors.As(err, &parseErr), errors.Is(err, llm.ErrBadRequest):
		return retryLater
	default: // connection loss, timeouts, breaker open, cache lease waits, serialization failures
		return holdWhileDown
	}
}
