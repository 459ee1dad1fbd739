package loadgen

import "math/rand/v2"

// zipfExponent is the skew of the zipf distribution (Go's Zipf needs s > 1;
// 1.1 sends roughly a fifth of requests to the ten hottest keys of 100 000).
const zipfExponent = 1.1

// keyChooser picks key indices for one connection, deterministically from the seed.
type keyChooser struct {
	dist     string
	keyspace uint64
	rng      *rand.Rand
	zipf     *rand.Zipf
	next     uint64 // sequential
}

func newKeyChooser(w Workload, conn int) *keyChooser {
	rng := rand.New(rand.NewPCG(uint64(w.Seed), uint64(conn)+1))
	k := &keyChooser{dist: w.KeyDist, keyspace: uint64(w.Keyspace), rng: rng}
	switch w.KeyDist {
	case DistZipf:
		k.zipf = rand.NewZipf(rng, zipfExponent, 1, k.keyspace-1)
	case DistSequential:
		// Spread the connections' starting points over the keyspace.
		k.next = uint64(conn) * k.keyspace / uint64(w.Connections)
	}
	return k
}

func (k *keyChooser) key() uint64 {
	switch k.dist {
	case DistZipf:
		return k.zipf.Uint64()
	case DistSequential:
		v := k.next
		k.next++
		if k.next == k.keyspace {
			k.next = 0
		}
		return v
	default:
		return k.rng.Uint64N(k.keyspace)
	}
}

// opMix decides GET or SET by position in a fixed GET:SET cycle, so a run of
// N requests sends exactly the ratio (not a random approximation of it).
type opMix struct {
	get, cycle uint64
}

func newOpMix(w Workload) opMix {
	return opMix{get: uint64(w.GetRatio), cycle: uint64(w.GetRatio + w.SetRatio)}
}

// isGet reports whether request number i (global or per connection) is a GET.
func (m opMix) isGet(i uint64) bool { return i%m.cycle < m.get }
