// Package dataset writes a reproducible set of keys of every Redis data type
// into a RESP server and later checks them key by key: what is missing, what
// changed (by checksum), and what is there that the dataset never wrote.
//
// Every key is generated from (seed, index) alone, so the verifier rebuilds
// the expected value of any key without replaying the whole sequence, and a
// run on another day with the same seed expects exactly the same data.
package dataset

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"time"
)

// DefaultKeys is the dataset size when none is given.
const DefaultKeys = 100_000

// DefaultPrefix namespaces the dataset's keys; extra keys are looked for
// only under it, so other data on the server (a writer log) is not "extra".
const DefaultPrefix = "dfe2e:ds:"

// Type is a Redis data type of the dataset.
type Type string

const (
	String Type = "string"
	Hash   Type = "hash"
	List   Type = "list"
	Set    Type = "set"
	ZSet   Type = "zset"
)

// Spec identifies one dataset: the same Spec always means the same keys.
type Spec struct {
	Keys   int
	Seed   int64
	Prefix string // DefaultPrefix when empty
}

// Validate rejects a Spec that cannot describe a dataset.
func (s Spec) Validate() error {
	if s.Keys <= 0 {
		return fmt.Errorf("--keys %d: want a positive number of keys (default %d)", s.Keys, DefaultKeys)
	}
	if s.Keys > 100_000_000 {
		return fmt.Errorf("--keys %d: more than 100M keys is not a test dataset", s.Keys)
	}
	return nil
}

func (s Spec) prefix() string {
	if s.Prefix == "" {
		return DefaultPrefix
	}
	return s.Prefix
}

// Item is the expected content of one key.
type Item struct {
	Name string
	Type Type
	// TTL is the expiry set when written (0: none). Long enough (1–2 h) to
	// survive any restart a suite does.
	TTL time.Duration
	// Str is the value of a string; Fields alternate field, value for a
	// hash; Elems are list elements in order, set members, or zset members
	// (with Scores).
	Str    string
	Fields []string
	Elems  []string
	Scores []float64
}

// rng is splitmix64: tiny, fast, and fully determined by its start value.
type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func (r *rng) text(min, max int) string {
	n := min + r.intn(max-min+1)
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.intn(len(alphabet))]
	}
	return string(b)
}

// typeOf spreads the types: 40% strings, 15% hashes, 15% lists, 15% sets,
// 15% sorted sets.
func typeOf(i int) Type {
	switch i % 20 {
	case 0, 1, 2, 3, 4, 5, 6, 7:
		return String
	case 8, 9, 10:
		return Hash
	case 11, 12, 13:
		return List
	case 14, 15, 16:
		return Set
	default:
		return ZSet
	}
}

// typeCode is the short tag in key names, so a report line shows the type.
var typeCode = map[Type]string{String: "str", Hash: "hash", List: "list", Set: "set", ZSet: "zset"}

// Name is the key name of index i.
func (s Spec) Name(i int) string {
	return s.prefix() + typeCode[typeOf(i)] + ":" + fmt.Sprintf("%08d", i)
}

// Index parses a key name of this dataset back to its index (ok false when
// the name is not one the dataset would write).
func (s Spec) Index(name string) (int, bool) {
	p := s.prefix()
	if len(name) <= len(p)+9 || name[:len(p)] != p {
		return 0, false
	}
	num := name[len(name)-8:]
	i, err := strconv.Atoi(num)
	if err != nil || i < 0 || i >= s.Keys || s.Name(i) != name {
		return 0, false
	}
	return i, true
}

// Item generates the expected content of key i.
func (s Spec) Item(i int) Item {
	r := rng(uint64(s.Seed)*0x2545f4914f6cdd1d ^ uint64(i)*0x9e3779b97f4a7c15)
	r.next()
	it := Item{Name: s.Name(i), Type: typeOf(i)}
	// One key in ten expires, between 1 and 2 hours from the write.
	if r.intn(10) == 0 {
		it.TTL = time.Hour + time.Duration(r.intn(3600))*time.Second
	}
	switch it.Type {
	case String:
		it.Str = r.text(16, 128)
	case Hash:
		n := 2 + r.intn(7)
		for f := 0; f < n; f++ {
			it.Fields = append(it.Fields, "f"+strconv.Itoa(f), r.text(4, 32))
		}
	case List:
		n := 2 + r.intn(9)
		for e := 0; e < n; e++ {
			it.Elems = append(it.Elems, r.text(4, 24))
		}
	case Set, ZSet:
		n := 2 + r.intn(9)
		seen := map[string]bool{}
		for len(it.Elems) < n {
			m := r.text(4, 24)
			if seen[m] {
				continue
			}
			seen[m] = true
			it.Elems = append(it.Elems, m)
			if it.Type == ZSet {
				// Integral scores survive every encoding exactly.
				it.Scores = append(it.Scores, float64(r.intn(1_000_000)))
			}
		}
	}
	return it
}

// Checksum is the digest of the key's content in a canonical form: order
// kept for lists, sorted for hashes, sets and sorted sets (whose order on the
// server is not the write order).
func (it Item) Checksum() uint64 {
	return checksum(it.Type, it.Str, it.Fields, it.Elems, it.Scores)
}

func checksum(t Type, str string, fields, elems []string, scores []float64) uint64 {
	h := fnv.New64a()
	var n [8]byte
	put := func(s string) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	put(string(t))
	switch t {
	case String:
		put(str)
	case Hash:
		pairs := make([]string, 0, len(fields)/2)
		for i := 0; i+1 < len(fields); i += 2 {
			pairs = append(pairs, fields[i]+"\x00"+fields[i+1])
		}
		sort.Strings(pairs)
		for _, p := range pairs {
			put(p)
		}
	case List:
		for _, e := range elems {
			put(e)
		}
	case Set:
		s := append([]string(nil), elems...)
		sort.Strings(s)
		for _, e := range s {
			put(e)
		}
	case ZSet:
		pairs := make([]string, len(elems))
		for i, e := range elems {
			pairs[i] = e + "\x00" + strconv.FormatFloat(scores[i], 'g', -1, 64)
		}
		sort.Strings(pairs)
		for _, p := range pairs {
			put(p)
		}
	}
	return h.Sum64()
}
