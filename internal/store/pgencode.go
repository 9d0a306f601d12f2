package store

import (
	"encoding/binary"
	"sync"
	"time"

	"newsflow/internal/news"
)

// The store encodes a batch itself, in Postgres's binary formats, into
// buffers it reuses: as a COPY stream for the optimistic path, and as 15
// arrays, only when needed, for insertIgnoreSQL. pgx's generic encoder
// reflects per element and regrows a fresh buffer for every query, which at
// ~100 KiB a batch cost as much client CPU (mostly GC) as the rest of the
// insert path (see BenchmarkCommit).

// Element type OIDs of the arrays insertIgnoreSQL takes.
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

// copyColumns is the column count of a COPY row, in copySQL's order.
const copyColumns = 15

// copySignature opens a binary COPY stream: the signature, then flags and the
// header extension length, both zero.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// pgBatch holds one encoded batch. It is pooled; the buffers are reused.
type pgBatch struct {
	rows    []news.Article
	now     time.Time
	hashes  []news.Hash
	stories []news.Hash
	// copyData holds the binary COPY stream that copyStream encodes.
	copyData []byte
	// buf holds the arrays that params slices, as arrays encodes them.
	buf    []byte
	params [][]byte
}

var pgBatchPool = sync.Pool{New: func() any { return &pgBatch{params: make([][]byte, 0, copyColumns)} }}

// binaryFormats says every parameter is in binary format.
var binaryFormats = []int16{1}

// reset makes b the batch of rows, committed at now, and computes each row's
// content hash where it is unset. It encodes nothing yet.
func (b *pgBatch) reset(rows []news.Article, now time.Time) {
	b.rows, b.now = rows, now
	b.hashes, b.stories = b.hashes[:0], b.stories[:0]
	for i := range rows {
		h := contentHash(&rows[i])
		b.hashes = append(b.hashes, h)
		b.stories = append(b.stories, rows[i].StoryOr(h))
	}
}

// ingestedAt returns row i's ingestion time: the commit time when unset.
func (b *pgBatch) ingestedAt(i int) time.Time {
	if t := b.rows[i].IngestedAt; !t.IsZero() {
		return t
	}
	return b.now
}

// copyStream encodes the batch as a binary COPY stream for copySQL.
func (b *pgBatch) copyStream() []byte {
	d := append(b.copyData[:0], copySignature...)
	text := func(s string) {
		d = binary.BigEndian.AppendUint32(d, uint32(len(s)))
		d = append(d, s...)
	}
	for i := range b.rows {
		a := &b.rows[i]
		d = binary.BigEndian.AppendUint16(d, copyColumns)
		text(a.ID)
		text(a.Source)
		text(a.URL)
		text(a.Title)
		text(a.Body)
		text(a.Lang)
		d = appendTimestamp(d, a.PublishedAt)
		d = appendTimestamp(d, b.ingestedAt(i))
		d = binary.BigEndian.AppendUint32(d, uint32(len(b.hashes[i])))
		d = append(d, b.hashes[i][:]...)
		text(a.Summary)
		text(a.Category)
		d = binary.BigEndian.AppendUint32(d, 2) // importance is a smallint
		d = binary.BigEndian.AppendUint16(d, uint16(clampInt16(a.Importance)))
		text(a.Model)
		d = binary.BigEndian.AppendUint32(d, 8)
		d = binary.BigEndian.AppendUint64(d, a.StreamSeq)
		d = binary.BigEndian.AppendUint32(d, uint32(len(b.stories[i])))
		d = append(d, b.stories[i][:]...)
	}
	d = binary.BigEndian.AppendUint16(d, 0xFFFF) // -1: the trailer
	b.copyData = d
	return d
}

// arrays encodes the batch as insertIgnoreSQL's 15 array parameters.
func (b *pgBatch) arrays() [][]byte {
	rows, n := b.rows, len(b.rows)
	b.buf, b.params = b.buf[:0], b.params[:0]
	var ends [copyColumns]int
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
		b.buf = appendTimestamp(b.buf, rows[i].PublishedAt)
	}
	next()
	b.arrayHeader(oidTimestamptz, n, false)
	for i := range rows {
		b.buf = appendTimestamp(b.buf, b.ingestedAt(i))
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
	b.arrayHeader(oidBytea, n, false)
	for i := range b.stories {
		b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(len(b.stories[i])))
		b.buf = append(b.buf, b.stories[i][:]...)
	}
	next()

	// Slice only now: appending may have moved the buffer.
	start := 0
	for _, end := range ends {
		b.params = append(b.params, b.buf[start:end:end])
		start = end
	}
	return b.params
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

// appendTimestamp appends one length-prefixed timestamptz; the zero time is
// NULL. Arrays and COPY rows both frame a value this way.
func appendTimestamp(d []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.BigEndian.AppendUint32(d, 0xFFFFFFFF) // -1: NULL
	}
	d = binary.BigEndian.AppendUint32(d, 8)
	return binary.BigEndian.AppendUint64(d, uint64(t.UnixMicro()-pgEpochMicros))
}

// clampInt32 saturates v, so an absurd importance still reaches the server
// and fails its range check as data, not as a client encoding error.
func clampInt32(v int) int32 {
	return int32(min(max(v, -1<<31), 1<<31-1))
}

// clampInt16 saturates v to a smallint, for the same reason.
func clampInt16(v int) int16 {
	return int16(min(max(v, -1<<15), 1<<15-1))
}

// release returns b to the pool unless it grew unusually large. It drops
// the rows, which the caller owns.
func (b *pgBatch) release() {
	b.rows = nil
	if cap(b.buf)+cap(b.copyData) > 16<<20 {
		return
	}
	pgBatchPool.Put(b)
}
