package localcloud

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/restjson"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// kelpTestService is a test-only service on JSON 1.0: Echo answers its
// Text and who called.
func kelpTestService() *service {
	return &service{signingName: "kelptest", name: "KelpTest", version: "2025-01-01", proto: jsonProtocol{},
		actions: map[string]handler{
			"Echo": func(in *call) (any, error) {
				var req struct{ Text string }
				if err := in.decodeJSON(&req); err != nil {
					return nil, err
				}
				if req.Text == "" {
					return nil, errf("ValidationException", "Text is required")
				}
				return map[string]string{"Text": req.Text, "Caller": in.caller.ARN}, nil
			},
		}}
}

// jsonCall is one JSON 1.0 request, signed with creds unless nil.
type jsonCall struct {
	target, body string
	creds        *aws.Credentials
}

// doJSON sends c as aws-sdk-go-v2 sends a JSON 1.0 call (its v4 signer,
// X-Amz-Target, application/x-amz-json-1.0) and returns the status, the
// decoded output and, for an error, the code and message as the SDK reads
// them.
func (e *env) doJSON(c jsonCall) (status int, out map[string]string, code, msg string) {
	t := e.t
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/", bytes.NewReader([]byte(c.body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", c.target)
	if c.creds != nil {
		sum := sha256.Sum256([]byte(c.body))
		if err := v4.NewSigner().SignHTTP(context.Background(), *c.creds, req, hex.EncodeToString(sum[:]),
			"kelptest", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
		t.Errorf("Content-Type %q", ct)
	}
	if resp.StatusCode != http.StatusOK {
		code, msg, err := restjson.GetErrorInfo(json.NewDecoder(bytes.NewReader(body)))
		if err != nil {
			t.Fatalf("the SDK cannot read error %s: %v", body, err)
		}
		return resp.StatusCode, nil, code, msg
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("output %s: %v", body, err)
	}
	return resp.StatusCode, out, "", ""
}

func TestJSONService(t *testing.T) {
	e := newEnv(t)
	if err := e.cloud.services.register(kelpTestService()); err != nil {
		t.Fatal(err)
	}
	if err := e.cloud.AddPrincipal(tempPrincipal); err != nil {
		t.Fatal(err)
	}
	temp := &aws.Credentials{AccessKeyID: tempPrincipal.AccessKeyID, SecretAccessKey: tempPrincipal.SecretAccessKey,
		SessionToken: tempPrincipal.SessionToken}
	status, out, code, msg := e.doJSON(jsonCall{target: "KelpTest.Echo", body: `{"Text":"hello"}`, creds: goodCreds})
	if status != 200 || out["Text"] != "hello" || out["Caller"] != DefaultPrincipal().ARN {
		t.Fatalf("Echo = %d %v %s %s", status, out, code, msg)
	}
	if _, out, code, _ := e.doJSON(jsonCall{target: "KelpTest.Echo", body: `{"Text":"hi"}`, creds: temp}); out["Caller"] != tempPrincipal.ARN {
		t.Fatalf("Echo with temporary keys: %v %s", out, code)
	}
	tests := []struct {
		name       string
		call       jsonCall
		wantStatus int
		wantCode   string
	}{
		{"handler error", jsonCall{target: "KelpTest.Echo", body: `{}`, creds: goodCreds}, 400, "ValidationException"},
		{"bad input", jsonCall{target: "KelpTest.Echo", body: `{"Text":5}`, creds: goodCreds}, 400, codeSerialization},
		{"not json", jsonCall{target: "KelpTest.Echo", body: `Text=hi`, creds: goodCreds}, 400, codeSerialization},
		{"unknown action", jsonCall{target: "KelpTest.Launch", body: `{}`, creds: goodCreds}, 400, codeUnknownOperation},
		{"another service's target", jsonCall{target: "AmazonSQS.SendMessage", body: `{}`, creds: goodCreds}, 400, codeUnknownOperation},
		{"unsigned", jsonCall{target: "KelpTest.Echo", body: `{"Text":"x"}`}, 400, "MissingAuthenticationTokenException"},
		{"unknown key", jsonCall{target: "KelpTest.Echo", body: `{"Text":"x"}`,
			creds: &aws.Credentials{AccessKeyID: "AKIAUNKNOWN000000000", SecretAccessKey: "x"}}, 400, "UnrecognizedClientException"},
		{"wrong secret", jsonCall{target: "KelpTest.Echo", body: `{"Text":"x"}`,
			creds: &aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: "x"}}, 400, "InvalidSignatureException"},
		{"session token missing", jsonCall{target: "KelpTest.Echo", body: `{"Text":"x"}`,
			creds: &aws.Credentials{AccessKeyID: temp.AccessKeyID, SecretAccessKey: temp.SecretAccessKey}}, 400, "UnrecognizedClientException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, code, msg := e.doJSON(tt.call)
			if status != tt.wantStatus || code != tt.wantCode {
				t.Fatalf("got %d %s (%s) %v, want %d %s", status, code, msg, out, tt.wantStatus, tt.wantCode)
			}
		})
	}
	e.clock.Step(time.Hour)
	if _, _, code, _ := e.doJSON(jsonCall{target: "KelpTest.Echo", body: `{"Text":"x"}`, creds: temp}); code != "ExpiredTokenException" {
		t.Fatalf("expired session: %s", code)
	}
	// Throttling answers in JSON too.
	if err := e.cloud.SetFaults(Faults{ThrottleRate: 1}); err != nil {
		t.Fatal(err)
	}
	if status, _, code, _ := e.doJSON(jsonCall{target: "KelpTest.Echo", body: `{"Text":"x"}`, creds: goodCreds}); code != "ThrottlingException" || status != 400 {
		t.Fatalf("throttled: %d %s", status, code)
	}
}
