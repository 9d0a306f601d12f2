package store

import (
	"encoding/binary"
	"sync"
	"time"

	"newsflow/internal/news"
)

// Commit sends the batch as 14 binary-format arrays it encodes itself into a
// reused buffer: pgx's generic encoder reflects per element and regrows a
// fresh buffer for every query, which at ~100 KiB a batch cost as much client
// CPU (mostly GC) as the rest of the insert path (see BenchmarkCommit).

// Element type OIDs of the arrays insertSQL takes.
const (
	oidBytea       = 17
	oidInt8        = 20
	oidInt4        = 23
	oidText        = 25
	oidTimestamptz = 1184
)

// pgEpochMicros is 2000-01-01T00:00:00Z, Postgres's timestamp epoch, in Unix
// microseconds.
const pgEpochMicros = 946684800 * 1_000_000

// pgBatch holds one encoded batch. It is pooled; the buffers are reused.
type pgBatch struct {
	buf    []byte
	params [][]byte
	hashes []news.Hash
}

var pgBatchPool = sync.Pool{New: func() any { return &pgBatch{params: make([][]byte, 0, 14)} }}

// binaryFormats says every parameter is in binary format.
var binaryFormats = []int16{1}

// encode fills b with rows as insertSQL's parameters. Zero IngestedAt
// becomes now; a zero content hash is computed.
func (b *pgBatch) encode(rows []news.Article, now time.Time) {
	n := len(rows)
	b.buf = b.buf[:0]
	b.hashes = b.hashes[:0]
	for i := range rows {
		b.hashes = append(b.hashes, contentHash(&rows[i]))
	}
	var ends [14]int
	text := func(f func(a *news.Article) string) {
		b.arrayHeader(oidText, n, false)
		for i := range rows {
			s := f(&rows[i])
			b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(len(s)))
			b.buf = append(b.buf, s...)
		}
	}
	col := 0
	next := func() { ends[col] = len(b.buf); col++ }

	text(func(a *news.Article) string { return a.ID })
	next()
	text(func(a *news.Article) string { return a.Source })
	next()
	text(func(a *news.Article) string { return a.URL })
	next()
	text(func(a *news.Article) string { return a.Title })
	next()
	text(func(a *news.Article) string { return a.Body })
	next()
	text(func(a *news.Article) string { return a.Lang })
	next()

	nulls := false
	for i := range rows {
		nulls = nulls || rows[i].PublishedAt.IsZero()
	}
	b.arrayHeader(oidTimestamptz, n, nulls)
	for i := range rows {
		b.timestamp(rows[i].PublishedAt)
	}
	next()
	b.arrayHeader(oidTimestamptz, n, false)
	for i := range rows {
		t := rows[i].IngestedAt
		if t.IsZero() {
			t = now
		}
		b.timestamp(t)
	}
	next()

	b.arrayHeader(oidBytea, n, false)
	for i := range b.hashes {
		b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(len(b.hashes[i])))
		b.buf = append(b.buf, b.hashes[i][:]...)
	}
	next()
	text(func(a *news.Article) string { return a.Summary })
	next()
	text(func(a *news.Article) string { return a.Category })
	next()

	b.arrayHeader(oidInt4, n, false)
	for i := range rows {
		b.buf = binary.BigEndian.AppendUint32(b.buf, 4)
		b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(clampInt32(rows[i].Importance)))
	}
	next()
	text(func(a *news.Article) string { return a.Model })
	next()
	b.arrayHeader(oidInt8, n, false)
	for i := range rows {
		b.buf = binary.BigEndian.AppendUint32(b.buf, 8)
		b.buf = binary.BigEndian.AppendUint64(b.buf, rows[i].StreamSeq)
	}
	next()

	// Slice only now: appending may have moved the buffer.
	b.params = b.params[:0]
	start := 0
	for _, end := range ends {
		b.params = append(b.params, b.buf[start:end:end])
		start = end
	}
}

// arrayHeader appends a one-dimensional array header of n elements.
func (b *pgBatch) arrayHeader(elemOID uint32, n int, nulls bool) {
	flags := uint32(0)
	if nulls {
		flags = 1
	}
	b.buf = binary.BigEndian.AppendUint32(b.buf, 1) // dimensions
	b.buf = binary.BigEndian.AppendUint32(b.buf, flags)
	b.buf = binary.BigEndian.AppendUint32(b.buf, elemOID)
	b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(n)) // length
	b.buf = binary.BigEndian.AppendUint32(b.buf, 1)         // lower bound
}

// timestamp appends one timestamptz element; the zero time is NULL.
func (b *pgBatch) timestamp(t time.Time) {
	if t.IsZero() {
		b.buf = binary.BigEndian.AppendUint32(b.buf, 0xFFFFFFFF) // -1: NULL
		return
	}
	b.buf = binary.BigEndian.AppendUint32(b.buf, 8)
	b.buf = binary.BigEndian.AppendUint64(b.buf, uint64(t.UnixMicro()-pgEpochMicros))
}

// release returns b to the pool unless it grew unusually large.
func (b *pgBatch) release() {
	if cap(b.buf) > 16<<20 {
		return
	}
	pgBatchPool.Put(b)
}
