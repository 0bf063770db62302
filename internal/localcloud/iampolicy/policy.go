// Package iampolicy evaluates IAM identity-based policy documents: the
// part of the policy language kelp's documented policies use. Effect
// Allow and Deny (an explicit Deny wins; nothing allowed is denied),
// Action and NotAction with wildcards, Resource and NotResource with
// wildcards, and Conditions with the string, ARN, Bool and Null operators,
// their IfExists forms and the ForAllValues / ForAnyValue set qualifiers.
//
// It is pure: [Parse] reads a document, [Evaluate] rules on one request
// whose context (tags, tag keys) the caller has resolved.
package iampolicy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Policy is a parsed identity-based policy document.
type Policy struct {
	// Name identifies the policy in errors (a file name, a Sid prefix).
	Name       string
	Statements []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid string
	// Allow is the effect: true Allow, false Deny.
	Allow bool
	// Actions (or, with NotActions set, every action but these) the
	// statement covers: "service:Action" patterns, * and ? wildcards,
	// matched without regard to case.
	Actions, NotActions []string
	// Resources (or every resource but NotResources): ARN patterns with *
	// and ? wildcards.
	Resources, NotResources []string
	// Conditions must all hold for the statement to apply.
	Conditions []Condition
}

// document is the JSON form of a policy; Action, Resource and condition
// values may each be one string or a list.
type document struct {
	Version   string
	Statement statements
}

type statements []rawStatement

type rawStatement struct {
	Sid         string
	Effect      string
	Principal   json.RawMessage
	Action      stringList
	NotAction   stringList
	Resource    stringList
	NotResource stringList
	Condition   map[string]map[string]stringList
}

// UnmarshalJSON takes one statement or a list of them.
func (s *statements) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var one rawStatement
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = statements{one}
		return nil
	}
	return json.Unmarshal(b, (*[]rawStatement)(s))
}

// stringList is a JSON string or list of strings (booleans and numbers,
// as condition values may be, read as their text).
type stringList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *stringList) UnmarshalJSON(b []byte) error {
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	one := func(v any) (string, error) {
		switch v := v.(type) {
		case string:
			return v, nil
		case bool, float64:
			return fmt.Sprint(v), nil
		}
		return "", fmt.Errorf("want a string, got %s", b)
	}
	if list, ok := raw.([]any); ok {
		out := make([]string, 0, len(list))
		for _, v := range list {
			s, err := one(v)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		*l = out
		return nil
	}
	s, err := one(raw)
	*l = stringList{s}
	return err
}

// Parse reads a policy document (JSON) and checks it: every statement has
// an Effect of Allow or Deny, exactly one of Action and NotAction, exactly
// one of Resource and NotResource, no Principal (identity policies have
// none), and only condition operators Evaluate knows. name labels errors.
func Parse(name string, data []byte) (*Policy, error) {
	var doc document
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("policy %s: %w", name, err)
	}
	if doc.Version != "2012-10-17" {
		return nil, fmt.Errorf("policy %s: Version %q: want \"2012-10-17\"", name, doc.Version)
	}
	if len(doc.Statement) == 0 {
		return nil, fmt.Errorf("policy %s: no Statement", name)
	}
	p := &Policy{Name: name}
	var errs []error
	for i, raw := range doc.Statement {
		st, err := parseStatement(raw)
		if err != nil {
			label := fmt.Sprintf("statement %d", i+1)
			if raw.Sid != "" {
				label += " (" + raw.Sid + ")"
			}
			errs = append(errs, fmt.Errorf("%s: %w", label, err))
			continue
		}
		p.Statements = append(p.Statements, st)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("policy %s: %w", name, err)
	}
	return p, nil
}

func parseStatement(raw rawStatement) (Statement, error) {
	st := Statement{Sid: raw.Sid, Actions: raw.Action, NotActions: raw.NotAction,
		Resources: raw.Resource, NotResources: raw.NotResource}
	var errs []error
	switch raw.Effect {
	case "Allow":
		st.Allow = true
	case "Deny":
	default:
		errs = append(errs, fmt.Errorf("field Effect %q: want Allow or Deny", raw.Effect))
	}
	if len(raw.Principal) > 0 {
		errs = append(errs, errors.New("field Principal: an identity-based policy names no principal"))
	}
	if (len(raw.Action) == 0) == (len(raw.NotAction) == 0) {
		errs = append(errs, errors.New("want exactly one of Action and NotAction"))
	}
	if (len(raw.Resource) == 0) == (len(raw.NotResource) == 0) {
		errs = append(errs, errors.New("want exactly one of Resource and NotResource"))
	}
	for op, keys := range raw.Condition {
		for key, values := range keys {
			c, err := newCondition(op, key, values)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			st.Conditions = append(st.Conditions, c)
		}
	}
	return st, errors.Join(errs...)
}
