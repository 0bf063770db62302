package approver

import (
	"encoding/asn1"
	"strings"
	"testing"
)

// TestMalformedDERMessageIsStable: an asn1 structure error's message is
// cut before the field parameters Go dumps (pointer addresses included),
// so one request always gets one message.
func TestMalformedDERMessageIsStable(t *testing.T) {
	err := asn1.StructuralError{Msg: "tags don't match (0 vs {class:0 tag:0 length:12 isCompound:false}) {optional:false tag:0x18413bc76c40}"}
	got := stableASN1Error(err)
	if got != "asn1: structure error: tags don't match" || strings.Contains(got, "0x") {
		t.Fatalf("message %q, want it without the dumped parameters", got)
	}
}
