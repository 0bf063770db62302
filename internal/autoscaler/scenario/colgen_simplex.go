package scenario

import (
	"fmt"
	"math"
)

// simplex is a revised primal simplex for the restricted master LP of
// columnGeneration: min Σ cost_p·x_p subject to Σ_p count_ip·x_p − s_i =
// n_i, x, s ≥ 0. The basis inverse is dense (rows × rows), updated by
// pivots and refactored every refactorEvery pivots. Variable j < rows is
// row j's surplus s_j, j ≥ rows pattern j − rows.
type simplex struct {
	n      []float64   // demands
	cols   []column    // patterns
	basis  []int       // row → basic variable
	binv   [][]float64 // basis inverse
	xb     []float64   // basic values
	pivots int
	stall  int // pivots since the objective last fell
	obj    float64
}

const (
	refactorEvery = 64
	cgEps         = 1e-9
	// blandAfter degenerate pivots in a row, the entering variable is the
	// first with a negative reduced cost (Bland's rule: no cycling).
	blandAfter = 50
)

// newSimplex starts from the basis of the single-item columns cols (one
// per row, in row order: a diagonal basis).
func newSimplex(items []cgItem, cols []column) *simplex {
	m := len(items)
	s := &simplex{n: make([]float64, m), cols: cols, basis: make([]int, m), binv: make([][]float64, m), xb: make([]float64, m)}
	for i, it := range items {
		s.n[i] = it.n
		s.basis[i] = m + i
		s.binv[i] = make([]float64, m)
		s.binv[i][i] = 1 / cols[i].count[i]
		s.xb[i] = it.n / cols[i].count[i]
	}
	s.obj = s.objective()
	return s
}

func (s *simplex) column(j int) ([]float64, float64) {
	m := len(s.n)
	if j < m {
		a := make([]float64, m)
		a[j] = -1
		return a, 0
	}
	c := s.cols[j-m]
	return c.count, c.cost
}

func (s *simplex) objective() float64 {
	v := 0.0
	for r, j := range s.basis {
		_, c := s.column(j)
		v += c * s.xb[r]
	}
	return v
}

// duals returns y = c_B·B⁻¹.
func (s *simplex) duals() []float64 {
	m := len(s.n)
	y := make([]float64, m)
	for r, j := range s.basis {
		_, c := s.column(j)
		if c == 0 {
			continue
		}
		for i := range m {
			y[i] += c * s.binv[r][i]
		}
	}
	return y
}

// entering returns the non-basic variable of most negative reduced cost
// relative to its cost (the first negative one once stalling), if any.
func (s *simplex) entering(y []float64) (int, bool) {
	m := len(s.n)
	basic := make(map[int]bool, m)
	for _, j := range s.basis {
		basic[j] = true
	}
	bland := s.stall >= blandAfter
	best, bestRC := -1, -cgEps
	for j := range m + len(s.cols) {
		if basic[j] {
			continue
		}
		var d float64
		if j < m {
			d = y[j] // 0 − y·(−e_j)
		} else {
			d = rc(s.cols[j-m], y)
		}
		if d < bestRC {
			best, bestRC = j, d
			if bland {
				break
			}
		}
	}
	return best, best >= 0
}

// pivot brings variable q into the basis (ratio test, ties to the lowest
// row).
func (s *simplex) pivot(q int) error {
	m := len(s.n)
	a, _ := s.column(q)
	u := make([]float64, m)
	for r := range m {
		for i, v := range a {
			if v != 0 {
				u[r] += s.binv[r][i] * v
			}
		}
	}
	leave, theta := -1, math.Inf(1)
	for r := range m {
		if u[r] > cgEps {
			if t := s.xb[r] / u[r]; t < theta-1e-12 {
				leave, theta = r, t
			}
		}
	}
	if leave < 0 {
		return fmt.Errorf("master LP unbounded at variable %d", q)
	}
	for r := range m {
		if r != leave {
			s.xb[r] = max(s.xb[r]-theta*u[r], 0)
		}
	}
	s.xb[leave] = theta
	pr := s.binv[leave]
	for i := range pr {
		pr[i] /= u[leave]
	}
	for r := range m {
		if r == leave || u[r] == 0 {
			continue
		}
		f := u[r]
		for i := range pr {
			s.binv[r][i] -= f * pr[i]
		}
	}
	s.basis[leave] = q
	s.pivots++
	if s.pivots%refactorEvery == 0 {
		if err := s.refactor(); err != nil {
			return err
		}
	}
	obj := s.objective()
	if obj < s.obj-1e-12*max(1, math.Abs(s.obj)) {
		s.stall = 0
	} else {
		s.stall++
	}
	s.obj = obj
	return nil
}

// refactor recomputes the basis inverse by Gauss-Jordan elimination with
// partial pivoting, and the basic values from it.
func (s *simplex) refactor() error {
	m := len(s.n)
	aug := make([][]float64, m)
	for r := range m {
		aug[r] = make([]float64, 2*m)
		aug[r][m+r] = 1
	}
	for c, j := range s.basis {
		a, _ := s.column(j)
		for r := range m {
			aug[r][c] = a[r]
		}
	}
	for c := range m {
		p := c
		for r := c + 1; r < m; r++ {
			if math.Abs(aug[r][c]) > math.Abs(aug[p][c]) {
				p = r
			}
		}
		if math.Abs(aug[p][c]) < 1e-12 {
			return fmt.Errorf("master LP basis singular after %d pivots", s.pivots)
		}
		aug[c], aug[p] = aug[p], aug[c]
		piv := aug[c][c]
		for i := range aug[c] {
			aug[c][i] /= piv
		}
		for r := range m {
			if r != c && aug[r][c] != 0 {
				f := aug[r][c]
				for i := range aug[r] {
					aug[r][i] -= f * aug[c][i]
				}
			}
		}
	}
	for r := range m {
		s.binv[r] = aug[r][m:]
		s.xb[r] = 0
		for i := range m {
			s.xb[r] += s.binv[r][i] * s.n[i]
		}
		s.xb[r] = max(s.xb[r], 0)
	}
	return nil
}
