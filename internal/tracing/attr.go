package tracing

import "go.opentelemetry.io/otel/attribute"

// Attribute keys. The messaging.* and gen_ai.* names are OpenTelemetry's
// semantic conventions (messaging spans, generative-AI client spans); the
// newsflow.* ones are ours.
const (
	MessagingSystem            = attribute.Key("messaging.system")
	MessagingOperationName     = attribute.Key("messaging.operation.name")
	MessagingOperationType     = attribute.Key("messaging.operation.type")
	MessagingDestinationName   = attribute.Key("messaging.destination.name")
	MessagingMessageID         = attribute.Key("messaging.message.id")
	MessagingMessageBodySize   = attribute.Key("messaging.message.body.size")
	MessagingBatchMessageCount = attribute.Key("messaging.batch.message_count")

	GenAISystem             = attribute.Key("gen_ai.system")
	GenAIRequestModel       = attribute.Key("gen_ai.request.model")
	GenAIUsageInputTokens   = attribute.Key("gen_ai.usage.input_tokens")
	GenAIUsageOutputTokens  = attribute.Key("gen_ai.usage.output_tokens")
	GenAIUsageCachedTokens  = attribute.Key("gen_ai.usage.cached_input_tokens")
	NewsflowStreamSeq       = attribute.Key("newsflow.stream_seq")
	NewsflowNumDelivered    = attribute.Key("newsflow.num_delivered")
	NewsflowDuplicate       = attribute.Key("newsflow.duplicate")
	NewsflowAttempt         = attribute.Key("newsflow.attempt")
	NewsflowRetries         = attribute.Key("newsflow.retries")
	NewsflowOutcome         = attribute.Key("newsflow.outcome")
	NewsflowFlushReason     = attribute.Key("newsflow.flush_reason")
	NewsflowRows            = attribute.Key("newsflow.rows")
	NewsflowRowsFailed      = attribute.Key("newsflow.rows_failed")
	NewsflowInserted        = attribute.Key("newsflow.inserted")
	NewsflowCommitFallback  = attribute.Key("newsflow.commit.fallback")
	NewsflowStories         = attribute.Key("newsflow.stories")
	NewsflowCacheHits       = attribute.Key("newsflow.cache.hits")
	NewsflowCacheMisses     = attribute.Key("newsflow.cache.misses")
	NewsflowReason          = attribute.Key("newsflow.reason")
	NewsflowLinkedTraceID   = attribute.Key("newsflow.producer.trace_id")
	NewsflowLinkedSpanID    = attribute.Key("newsflow.producer.span_id")
	NewsflowDeadLetterEvent = "dead_letter"
)

// SystemNATS is messaging.system's value.
var SystemNATS = MessagingSystem.String("nats")
