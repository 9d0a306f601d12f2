package news

// AppendNormalized exposes appendNormalized to the external tests.
var AppendNormalized = appendNormalized

// DecodeLimitRef exposes the previous DecodeLimit, the reference the current
// one is checked against.
var DecodeLimitRef = decodeLimitRef

// CheckDecodeMatchesReference exposes checkDecodeMatchesReference to the
// external tests.
var CheckDecodeMatchesReference = checkDecodeMatchesReference
