package reports

import "math"

// MannWhitney is the two-sided Mann-Whitney U test of samples a and b.
type MannWhitney struct {
	U float64 // U of sample a
	P float64 // two-sided p-value
	// Exact is true when P comes from the exact distribution of U (small
	// samples without ties), false for the normal approximation.
	Exact bool
}

// exactLimit bounds n1+n2 for the exact distribution (C(40,20) still fits a float64 count).
const exactLimit = 40

// MannWhitneyU tests whether a and b come from the same distribution. Ties
// get mid-ranks; with ties (or large samples) the normal approximation with
// tie correction and continuity correction is used.
func MannWhitneyU(a, b []float64) MannWhitney {
	n1, n2 := len(a), len(b)
	if n1 == 0 || n2 == 0 {
		return MannWhitney{P: 1}
	}
	type obs struct {
		v     float64
		fromA bool
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	// Insertion sort: samples are repetitions, a handful of values.
	for i := 1; i < len(all); i++ {
		for j := i; j > 0 && all[j].v < all[j-1].v; j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	var rankA, tieTerm float64
	ties := false
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		t := float64(j - i)
		if t > 1 {
			ties = true
			tieTerm += t*t*t - t
		}
		mid := float64(i+j+1) / 2 // ranks are 1-based: i+1 .. j
		for k := i; k < j; k++ {
			if all[k].fromA {
				rankA += mid
			}
		}
		i = j
	}
	fn1, fn2 := float64(n1), float64(n2)
	u := rankA - fn1*(fn1+1)/2
	mean := fn1 * fn2 / 2

	if !ties && n1+n2 <= exactLimit {
		// P(U <= k) from the count of rank arrangements, by the usual recurrence.
		dist := uDistribution(n1, n2)
		lo := math.Min(u, fn1*fn2-u)
		var cum, total float64
		for k, c := range dist {
			total += c
			if float64(k) <= lo {
				cum += c
			}
		}
		return MannWhitney{U: u, P: math.Min(1, 2*cum/total), Exact: true}
	}
	n := fn1 + fn2
	sigma2 := fn1 * fn2 / 12 * ((n + 1) - tieTerm/(n*(n-1)))
	if sigma2 <= 0 {
		return MannWhitney{U: u, P: 1} // every value equal
	}
	z := (math.Abs(u-mean) - 0.5) / math.Sqrt(sigma2)
	if z < 0 {
		z = 0
	}
	return MannWhitney{U: u, P: math.Min(1, math.Erfc(z/math.Sqrt2))}
}

// uDistribution returns counts c[k] of arrangements of n1 and n2 items with U = k.
func uDistribution(n1, n2 int) []float64 {
	// f[i][j][k]: arrangements of i a's and j b's with U = k; built up by
	// whether the largest element is an a (adds j to U) or a b.
	max := n1 * n2
	prev := make([][]float64, n2+1)
	for j := range prev {
		prev[j] = make([]float64, max+1)
		prev[j][0] = 1 // i = 0: one arrangement, U = 0
	}
	for i := 1; i <= n1; i++ {
		cur := make([][]float64, n2+1)
		for j := 0; j <= n2; j++ {
			cur[j] = make([]float64, max+1)
			for k := 0; k <= max; k++ {
				var c float64
				if k-j >= 0 {
					c += prev[j][k-j]
				}
				if j > 0 {
					c += cur[j-1][k]
				}
				cur[j][k] = c
			}
		}
		prev = cur
	}
	return prev[n2]
}

// MinExactP is the smallest two-sided p-value the exact test can reach with
// n1 and n2 repetitions (complete separation): 2 / C(n1+n2, n1). When it is
// above alpha, no amount of difference can be significant.
func MinExactP(n1, n2 int) float64 {
	if n1 == 0 || n2 == 0 {
		return 1
	}
	c := 1.0
	for i := 1; i <= n1; i++ {
		c = c * float64(n2+i) / float64(i)
	}
	return math.Min(1, 2/c)
}
