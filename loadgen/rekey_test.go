package loadgen

import (
	"bytes"
	"testing"
)

// Rewriting the keys of the previous batch yields the very bytes a fresh
// encode of the next batch would, and refuses a batch whose GET/SET order
// differs (leaving the buffer alone).
func TestRekeyMatchesAFreshEncode(t *testing.T) {
	for _, c := range []struct {
		name     string
		get, set int
		ttl      bool
		P        uint64
	}{{"1:1", 1, 1, false, 8}, {"3:1 with TTL", 3, 1, true, 6}, {"GET only", 1, 0, false, 5}} {
		w := Workload{Connections: 2, Keyspace: 1000, KeyDist: DistUniform, Seed: 7, ValueSize: 40, GetRatio: c.get, SetRatio: c.set}
		if c.ttl {
			w.TTL = 5e9
		}
		tpl, mix := newCommandTemplates(w.ValueSize, w.TTL), newOpMix(w)
		fresh := &worker{keys: newKeyChooser(w, 1)}
		reused := &worker{keys: newKeyChooser(w, 1)}
		P := c.P
		rekeyed, refused := 0, 0
		isGet, prev := make([]bool, P), make([]bool, P)
		buf := reused.encode(nil, &tpl, mix, prev, 0)
		_ = fresh.encode(nil, &tpl, mix, isGet, 0) // keep both key streams in step
		for batch := uint64(1); batch <= 6; batch++ {
			seq := batch * P
			want := fresh.encode(nil, &tpl, mix, isGet, seq)
			sameOrder := true
			for i := range isGet {
				sameOrder = sameOrder && isGet[i] == prev[i]
			}
			before := append([]byte{}, buf...)
			ok := reused.rekey(buf, &tpl, mix, prev, seq)
			if ok != sameOrder {
				t.Fatalf("%s batch %d: rekey reported %v for a batch whose order is the same: %v", c.name, batch, ok, sameOrder)
			}
			if ok {
				rekeyed++
			} else {
				refused++
				if !bytes.Equal(buf, before) {
					t.Fatalf("%s batch %d: a refused rekey changed the buffer", c.name, batch)
				}
				buf = reused.encode(buf[:0], &tpl, mix, prev, seq)
			}
			if !bytes.Equal(buf, want) {
				t.Fatalf("%s batch %d: rekeyed batch differs from a fresh encode:\n%q\n%q", c.name, batch, buf, want)
			}
		}
		// 3:1 over 6 requests a batch shifts the order every batch; the
		// other cases repeat it.
		if wantRefused := c.name == "3:1 with TTL"; (refused > 0) != wantRefused || (rekeyed > 0) == wantRefused {
			t.Errorf("%s: %d batches rekeyed, %d refused: the test missed a path", c.name, rekeyed, refused)
		}
	}
}
