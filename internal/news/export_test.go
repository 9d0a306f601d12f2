package news

// AppendNormalized exposes appendNormalized to the external tests.
var AppendNormalized = appendNormalized
