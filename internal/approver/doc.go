// Package approver decides which certificate signing requests of nodes are
// approved. This file set holds the manual path (`kelp csr`): listing CSRs
// with the facts an operator needs, and approving or denying them with a
// recorded reason, exactly as `kubectl certificate approve|deny` does.
package approver
