package competingapprovers

import (
	"fmt"
	"time"

	"sigs.k8s.io/yaml"
)

// maxStatusBindings bounds the bindings the status lists per check.
const maxStatusBindings = 20

// Status is what the status ConfigMap shows of the last check (key
// StatusKey, YAML).
type Status struct {
	Time string `json:"time"`
	// Error is set when the last check could not run; Checks then hold
	// the last answers that could be read.
	Error  string        `json:"error,omitempty"`
	Checks []CheckStatus `json:"checks"`
}

// CheckStatus is one check's result.
type CheckStatus struct {
	Check Check `json:"check"`
	// CompetingApprover is true when csrapproving would approve these
	// CSRs before kelp decides them.
	CompetingApprover bool     `json:"competingApprover"`
	Bindings          []string `json:"bindings,omitempty"`
	Message           string   `json:"message,omitempty"`
}

// StatusOf renders r, checked at now (checkErr non-nil when the check
// failed and r is the last good report).
func StatusOf(r Report, checkErr error, now time.Time) Status {
	st := Status{Time: now.UTC().Format(time.RFC3339)}
	if checkErr != nil {
		st.Error = checkErr.Error()
	}
	for _, check := range Checks {
		cs := CheckStatus{Check: check, CompetingApprover: r.Allowed[check]}
		for _, f := range r.Findings {
			if f.Check != check {
				continue
			}
			cs.Message = f.Message
			for _, g := range f.Grants[:min(len(f.Grants), maxStatusBindings)] {
				cs.Bindings = append(cs.Bindings, g.Binding)
			}
			if n := len(f.Grants) - maxStatusBindings; n > 0 {
				cs.Bindings = append(cs.Bindings, fmt.Sprintf("... and %d more", n))
			}
		}
		st.Checks = append(st.Checks, cs)
	}
	return st
}

// Render returns st as YAML; withoutTime leaves the time out, to compare
// two statuses.
func (st Status) Render(withoutTime bool) (string, error) {
	if withoutTime {
		st.Time = ""
	}
	out, err := yaml.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("render competing approvers status: %w", err)
	}
	return string(out), nil
}
