package approver

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"

	"github.com/kelp-dev/kelp/internal/bootstrap"
)

// This file holds the checks on the request itself and its requestor:
// they need no cloud or cluster facts and are the same for every kind,
// except where noted.

const bootstrapUserPrefix = "system:bootstrap:"

var (
	clientUsages = [][]certificatesv1.KeyUsage{
		{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth},
	}
	servingUsages    = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
	servingUsagesRSA = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}
)

// outcome is the result of one check before it is named.
type outcome struct {
	status         CheckStatus
	reason, detail string
}

func passed(format string, args ...any) outcome {
	return outcome{status: CheckPassed, detail: fmt.Sprintf(format, args...)}
}

func failed(reason, format string, args ...any) outcome {
	return outcome{status: CheckFailed, reason: reason, detail: fmt.Sprintf(format, args...)}
}

func waiting(reason, format string, args ...any) outcome {
	return outcome{status: CheckWaiting, reason: reason, detail: fmt.Sprintf(format, args...)}
}

// run records check name: skipped with why when !ready, else fn's outcome.
func (e *eval) run(name string, ready bool, why string, fn func() outcome) {
	if !ready {
		e.skip(name, why)
		return
	}
	o := fn()
	e.add(name, o.status, o.reason, o.detail)
}

// requestChecks runs the checks on spec.request, spec.usages and
// spec.expirationSeconds, and reads the node name from the CN.
func (e *eval) requestChecks() {
	csr := e.f.CSR
	req, err := ParseCSR(csr.Spec.Request)
	switch {
	case errors.Is(err, errMalformedPEM):
		e.fail("request", ReasonMalformedPEM, err.Error())
	case err != nil:
		e.fail("request", ReasonMalformedRequest, err.Error())
	default:
		e.req = req
		e.pass("request", "spec.request is one CERTIFICATE REQUEST PEM block")
	}
	parsed, unreadable := e.req != nil, "the request could not be read"
	e.run("signature", parsed, unreadable, func() outcome {
		if err := e.req.CheckSignature(); err != nil {
			return failed(ReasonBadSignature, "the request's signature does not verify: %v", err)
		}
		return passed("the request is signed by its key")
	})
	e.run("key", parsed, unreadable, func() outcome {
		if err := checkKey(e.req.PublicKey); err != nil {
			return failed(ReasonWeakKey, "%v", err)
		}
		return passed("%s key", keyName(e.req.PublicKey))
	})
	e.run("common-name", parsed, unreadable, func() outcome {
		name, err := nodeNameFromCN(e.req.Subject.CommonName)
		if err != nil {
			return failed(ReasonBadCommonName, "%v", err)
		}
		e.name = name
		return passed("common name %s", quote(e.req.Subject.CommonName))
	})
	e.run("organization", parsed, unreadable, func() outcome {
		if err := checkOrganization(e.req); err != nil {
			return failed(ReasonBadOrganization, "%v", err)
		}
		return passed("organization [%q]", nodesGroup)
	})
	e.run("subject-fields", parsed, unreadable, func() outcome {
		if err := checkSubjectFields(e.req); err != nil {
			return failed(ReasonExtraSubjectFields, "%v", err)
		}
		return passed("subject holds CN and O only")
	})
	e.run("sans", parsed, unreadable, e.sanTypes)
	e.run("extensions", parsed, unreadable, func() outcome {
		if err := checkExtensions(e.req, e.kind == KindServing); err != nil {
			return failed(ReasonExtensionNotAllowed, "%v", err)
		}
		return passed("no extension or attribute beyond what a kubelet requests")
	})
	e.run("usages", parsed || e.kind != KindServing, unreadable, e.usages)
	e.run("expiration", true, "", e.expiration)
}

// sanTypes: client certificates carry no SAN at all; serving certificates
// carry DNS and IP SANs only, at least one.
func (e *eval) sanTypes() outcome {
	s, err := summarizeSANs(e.req)
	if err != nil {
		return failed(ReasonMalformedRequest, "%v", err)
	}
	if e.kind != KindServing {
		if err := checkNoSANs(s); err != nil {
			return failed(ReasonSANNotAllowed, "%v", err)
		}
		return passed("no subject alternative names")
	}
	switch {
	case len(s.Email) > 0 || len(s.URI) > 0 || s.Other > 0:
		return failed(ReasonSANNotAllowed, "only DNS and IP SANs are allowed, found email=%s uri=%s other=%d", quoteAll(s.Email), quoteAll(s.URI), s.Other)
	case len(s.DNS)+len(s.IP) == 0:
		return failed(ReasonMissingSAN, "a serving certificate needs at least one DNS or IP SAN")
	case s.Extensions != 1:
		return failed(ReasonExtensionNotAllowed, "%d SAN extensions, want 1", s.Extensions)
	}
	return passed("SANs dns=%s ip=%s", quoteAll(s.DNS), quoteAll(addrStrings(s.IP)))
}

func (e *eval) usages() outcome {
	usages := e.f.CSR.Spec.Usages
	allowed := clientUsages
	if e.kind == KindServing {
		allowed = [][]certificatesv1.KeyUsage{servingUsages}
		if isRSA(e.req.PublicKey) {
			allowed = append(allowed, servingUsagesRSA)
		}
	}
	if err := checkUsages(usages, allowed...); err != nil {
		return failed(ReasonBadUsages, "%v", err)
	}
	return passed("usages %s", quoteAll(usageSet(usages)))
}

func (e *eval) expiration() outcome {
	secs := e.f.CSR.Spec.ExpirationSeconds
	if secs == nil {
		return passed("expirationSeconds not set; the signer's duration applies")
	}
	d := time.Duration(*secs) * time.Second
	if d < MinExpiration || d > e.cfg.MaxExpiration {
		return failed(ReasonBadExpiration, "expirationSeconds %d (%s) is outside [%s, %s]", *secs, d, MinExpiration, e.cfg.MaxExpiration)
	}
	return passed("expirationSeconds %d within %s", *secs, e.cfg.MaxExpiration)
}

// requestorChecks checks spec.username and spec.groups: a bootstrap token
// of exactly one kelp pool for new nodes; the node named by the CN, in
// group system:nodes, for renewals and serving certificates.
func (e *eval) requestorChecks() {
	user, groups := e.f.CSR.Spec.Username, e.f.CSR.Spec.Groups
	if e.kind == KindNewNode {
		e.run("requestor", true, "", func() outcome {
			id, ok := strings.CutPrefix(user, bootstrapUserPrefix)
			if !ok || !bootstraputil.IsValidBootstrapTokenID(id) {
				return failed(ReasonUnexpectedRequestor, "requestor %s is not a bootstrap token (system:bootstrap:<token-id>) nor a node", quote(user))
			}
			return passed("requestor %s is a bootstrap token", quote(user))
		})
		if !instanceBound(groups) {
			e.run("pool-group", true, "", func() outcome {
				pool, err := poolFromGroups(groups)
				if err != nil {
					return failed(ReasonBadPoolGroup, "%v", err)
				}
				e.pool = pool
				return passed("bootstrap token of pool %q", pool)
			})
			return
		}
		e.run("instance-group", true, "", func() outcome {
			id, err := instanceFromGroups(groups)
			if err != nil {
				return failed(ReasonBadPoolGroup, "%v", err)
			}
			e.instance = id
			return passed("bootstrap token bound to instance %s (an identity join)", id)
		})
		return
	}
	e.run("requestor", e.req != nil, "the request could not be read", func() outcome {
		if !strings.HasPrefix(user, nodeNamePrefix) {
			return failed(ReasonUnexpectedRequestor, "requestor %s is not a node (system:node:<name>)", quote(user))
		}
		if cn := e.req.Subject.CommonName; user != cn {
			return failed(ReasonRequestorMismatch, "requestor %s asks for a certificate of %s", quote(user), quote(cn))
		}
		return passed("requestor %s is the node named by the common name", quote(user))
	})
	e.run("nodes-group", true, "", func() outcome {
		if !slices.Contains(groups, nodesGroup) {
			return failed(ReasonMissingNodesGroup, "requestor groups %s lack %q", quoteAll(groups), nodesGroup)
		}
		return passed("requestor is in %q", nodesGroup)
	})
}

// poolFromGroups returns the pool of the single kelp pool group
// (system:bootstrappers:kelp:<pool>) among groups; instance groups
// (bootstrap.InstanceGroup) are not pool groups.
func poolFromGroups(groups []string) (string, error) {
	pools := poolGroups(groups)
	switch {
	case len(pools) == 0:
		return "", fmt.Errorf("requestor groups %s hold no %s:<pool> group", quoteAll(groups), bootstrap.GroupPrefix)
	case len(pools) > 1:
		return "", fmt.Errorf("requestor groups name %d pools %s, want exactly one", len(pools), quoteAll(pools))
	}
	if msgs := validation.IsDNS1123Label(pools[0]); len(msgs) > 0 {
		return "", fmt.Errorf("pool %s of the requestor's group is not a valid pool name: %s", quote(pools[0]), strings.Join(msgs, "; "))
	}
	return pools[0], nil
}

// poolGroups returns the distinct pools named by kelp pool groups among
// groups, in order, skipping instance groups.
func poolGroups(groups []string) []string {
	var pools []string
	for _, g := range groups {
		if strings.HasPrefix(g, bootstrap.InstanceGroupPrefix) {
			continue
		}
		if p, ok := strings.CutPrefix(g, bootstrap.GroupPrefix+":"); ok && !slices.Contains(pools, p) {
			pools = append(pools, p)
		}
	}
	return pools
}

// instanceBound reports whether groups carry an instance group
// (bootstrap.InstanceGroupPrefix): the token of an identity join, bound
// to one instance, whatever else its groups hold.
func instanceBound(groups []string) bool {
	return slices.ContainsFunc(groups, func(g string) bool { return strings.HasPrefix(g, bootstrap.InstanceGroupPrefix) })
}

// instanceFromGroups returns the instance of the single instance group
// among groups, which must name no pool as well.
func instanceFromGroups(groups []string) (string, error) {
	if pools := poolGroups(groups); len(pools) > 0 {
		return "", fmt.Errorf("requestor groups %s name pool %s and an instance; a token is bound to one or the other", quoteAll(groups), quote(pools[0]))
	}
	id, ok := bootstrap.InstanceFromGroups(groups)
	if !ok {
		return "", fmt.Errorf("requestor groups %s must name exactly one instance (%s<instance-id>)", quoteAll(groups), bootstrap.InstanceGroupPrefix)
	}
	return id, nil
}
