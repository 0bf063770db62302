package localcloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/ec2query"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/restjson"
	awsxml "github.com/aws/aws-sdk-go-v2/aws/protocol/xml"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// testServices are the services the protocol tests address.
var (
	testQuerySvc = &service{signingName: "autoscaling", name: "AmazonAutoScaling", version: autoScalingVersion,
		namespace: autoScalingNamespace, proto: queryProtocol{}}
	testEC2Svc = &service{signingName: "ec2", name: "AmazonEC2", version: ec2Version, namespace: ec2Namespace,
		proto: ec2Protocol{}}
	testJSONSvc = &service{signingName: "kelptest", name: "KelpTest", version: "2025-01-01", proto: jsonProtocol{}}
)

func codeOf(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name        string
		proto       protocol
		method, url string
		contentType string
		target      string
		body        string
		wantAction  string
		wantAPI     string
		wantParam   [2]string // a parameter and its value
		wantDialect dialect
		wantCode    string
	}{
		{name: "query form body", proto: queryProtocol{}, method: "POST", contentType: "application/x-www-form-urlencoded; charset=utf-8",
			body: "Action=DescribeTags&Version=2011-01-01&Tags.member.1.Key=k", wantAction: "DescribeTags", wantAPI: "2011-01-01",
			wantParam: [2]string{"Tags.member.1.Key", "k"}, wantDialect: dialectQuery},
		{name: "ec2 query string", proto: ec2Protocol{}, method: "GET", url: "/?Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1",
			wantAction: "DescribeInstances", wantAPI: "2016-11-15", wantParam: [2]string{"InstanceId.1", "i-1"}, wantDialect: dialectEC2},
		{name: "query string and body merge", proto: queryProtocol{}, method: "POST", url: "/?Version=2011-01-01",
			contentType: formContentType, body: "Action=X", wantAction: "X", wantAPI: "2011-01-01", wantDialect: dialectQuery},
		{name: "form: not a form", proto: queryProtocol{}, method: "POST", contentType: "application/json", body: "{}",
			wantCode: codeMalformedQueryString},
		{name: "form: malformed query", proto: ec2Protocol{}, method: "GET", url: "/?a=%zz", wantCode: codeMalformedQueryString},
		{name: "json", proto: jsonProtocol{}, method: "POST", contentType: jsonContentType, target: "KelpTest.Echo",
			body: `{"Text":"hi"}`, wantAction: "Echo", wantAPI: "KelpTest"},
		{name: "json: empty body is {}", proto: jsonProtocol{}, method: "POST", contentType: jsonContentType, target: "KelpTest.Echo",
			wantAction: "Echo", wantAPI: "KelpTest"},
		{name: "json: no target", proto: jsonProtocol{}, method: "POST", contentType: jsonContentType, body: "{}"},
		{name: "json: not an object", proto: jsonProtocol{}, method: "POST", contentType: jsonContentType, target: "KelpTest.Echo",
			body: `[1]`, wantCode: codeSerialization},
		{name: "json: not json", proto: jsonProtocol{}, method: "POST", contentType: jsonContentType, target: "KelpTest.Echo",
			body: `{"a":`, wantCode: codeSerialization},
		{name: "json: wrong content type", proto: jsonProtocol{}, method: "POST", contentType: formContentType, target: "KelpTest.Echo",
			body: `{}`, wantCode: codeSerialization},
		{name: "json: GET", proto: jsonProtocol{}, method: "GET", contentType: jsonContentType, target: "KelpTest.Echo",
			wantCode: codeSerialization},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.url
			if u == "" {
				u = "/"
			}
			r := httptest.NewRequest(tt.method, u, strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			if tt.target != "" {
				r.Header.Set(targetHeader, tt.target)
			}
			in, err := tt.proto.decode(r, []byte(tt.body))
			if tt.wantCode != "" || err != nil {
				if got := codeOf(err); got != tt.wantCode {
					t.Fatalf("err = %v, want code %q", err, tt.wantCode)
				}
				return
			}
			if in.action != tt.wantAction || in.api != tt.wantAPI {
				t.Errorf("action, api = %q, %q; want %q, %q", in.action, in.api, tt.wantAction, tt.wantAPI)
			}
			if k := tt.wantParam[0]; k != "" && in.params.str(k) != tt.wantParam[1] {
				t.Errorf("%s = %q, want %q", k, in.params.str(k), tt.wantParam[1])
			}
			if in.params.dialect != tt.wantDialect {
				t.Errorf("dialect = %v, want %v", in.params.dialect, tt.wantDialect)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		svc      *service
		in       call
		wantCode string
	}{
		{"query ok", testQuerySvc, call{action: "DescribeTags", api: autoScalingVersion, params: params{dialect: dialectQuery}}, ""},
		{"query: no version", testQuerySvc, call{action: "DescribeTags", params: params{dialect: dialectQuery}}, codeValidationError},
		{"ec2: no version", testEC2Svc, call{action: "DescribeTags", params: params{dialect: dialectEC2}}, codeMissingParameter},
		{"ec2: another's version", testEC2Svc, call{action: "X", api: autoScalingVersion, params: params{dialect: dialectEC2}}, codeNoSuchVersion},
		{"query: no action", testQuerySvc, call{api: autoScalingVersion, params: params{dialect: dialectQuery}}, "MissingAction"},
		{"json ok", testJSONSvc, call{action: "Echo", api: "KelpTest"}, ""},
		{"json: no target", testJSONSvc, call{}, codeUnknownOperation},
		{"json: another's target", testJSONSvc, call{action: "SendMessage", api: "AmazonSQS"}, codeUnknownOperation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.svc.proto.check(tt.svc, &tt.in)
			if got := codeOf(err); got != tt.wantCode || (tt.wantCode == "" && err != nil) {
				t.Fatalf("check = %v, want code %q", err, tt.wantCode)
			}
		})
	}
}

type echoOut struct {
	Text string `xml:"Text" json:"Text"`
	N    int    `xml:"N" json:"N"`
}

type echoEC2 struct {
	ec2Meta
	Text string `xml:"text"`
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name   string
		svc    *service
		action string
		result any
		want   []string
	}{
		{"query", testQuerySvc, "Echo", &echoOut{Text: "hi", N: 2}, []string{
			`<EchoResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><EchoResult><Text>hi</Text><N>2</N></EchoResult>`,
			`<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></EchoResponse>`}},
		{"query without output", testQuerySvc, "Delete", nil, []string{
			`<DeleteResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><ResponseMetadata>`}},
		{"ec2", testEC2Svc, "Echo", &echoEC2{Text: "hi"}, []string{
			`<EchoResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId><text>hi</text></EchoResponse>`}},
		{"json", testJSONSvc, "Echo", echoOut{Text: "hi", N: 2}, []string{`{"Text":"hi","N":2}`}},
		{"json without output", testJSONSvc, "Delete", nil, []string{`{}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.svc.proto.encode(tt.svc, &call{id: "req-1", action: tt.action}, tt.result)
			if err != nil {
				t.Fatal(err)
			}
			testenv.Contains(t, "encoded result", string(out), tt.want...)
		})
	}
	if _, err := testEC2Svc.proto.encode(testEC2Svc, &call{action: "Echo"}, echoOut{}); err == nil {
		t.Error("ec2 encoded a result that is not an ec2Response")
	}
}

// TestEncodeError checks each protocol's error shape with the SDK's own
// error decoders.
func TestEncodeError(t *testing.T) {
	e := &apiError{Code: "Boom", Message: "it broke", Status: 500, Server: true}
	q := testQuerySvc.proto.encodeError(testQuerySvc, "req-1", e)
	qc, err := awsxml.GetErrorResponseComponents(bytes.NewReader(q), false)
	if err != nil || qc.Code != "Boom" || qc.Message != "it broke" || qc.RequestID != "req-1" || !bytes.Contains(q, []byte("<Type>Receiver</Type>")) {
		t.Errorf("query error %s read as %+v, %v", q, qc, err)
	}
	if !bytes.Contains(q, []byte(`<ErrorResponse xmlns="`+autoScalingNamespace+`">`)) {
		t.Errorf("query error without the service's namespace: %s", q)
	}
	x := testEC2Svc.proto.encodeError(testEC2Svc, "req-1", e)
	xc, err := ec2query.GetErrorResponseComponents(bytes.NewReader(x))
	if err != nil || xc.Code != "Boom" || xc.Message != "it broke" || xc.RequestID != "req-1" {
		t.Errorf("ec2 error %s read as %+v, %v", x, xc, err)
	}
	j := testJSONSvc.proto.encodeError(testJSONSvc, "req-1", e)
	code, msg, err := restjson.GetErrorInfo(json.NewDecoder(bytes.NewReader(j)))
	if err != nil || code != "Boom" || msg != "it broke" {
		t.Errorf("json error %s read as %q %q, %v", j, code, msg, err)
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		kind                    failureKind
		query, ec2, json        string
		queryStatus, jsonStatus int
	}{
		{failMissingAuth, codeMissingAuthToken, codeMissingAuthToken, "MissingAuthenticationTokenException", 403, 400},
		{failIncompleteSignature, codeIncompleteSignature, codeIncompleteSignature, "IncompleteSignatureException", 403, 400},
		{failUnknownKey, codeInvalidClientTokenID, codeInvalidClientTokenID, "UnrecognizedClientException", 403, 400},
		{failBadSignature, codeSignatureDoesNotMatch, codeSignatureDoesNotMatch, "InvalidSignatureException", 403, 400},
		{failExpiredToken, "ExpiredToken", "RequestExpired", "ExpiredTokenException", 403, 400},
		{failAccessDenied, "AccessDenied", "UnauthorizedOperation", "AccessDeniedException", 403, 400},
		{failThrottled, codeThrottling, codeRequestLimitExceeded, "ThrottlingException", 400, 400},
		{failInternal, codeInternalFailure, codeInternalError, codeInternalFailure, 500, 500},
		{failMalformed, codeMalformedQueryString, codeMalformedQueryString, codeSerialization, 400, 400},
	}
	for _, tt := range tests {
		q, x, j := queryProtocol{}.failure(tt.kind, "m"), ec2Protocol{}.failure(tt.kind, ""), jsonProtocol{}.failure(tt.kind, "m")
		if q.Code != tt.query || x.Code != tt.ec2 || j.Code != tt.json {
			t.Errorf("kind %d: codes %s, %s, %s; want %s, %s, %s", tt.kind, q.Code, x.Code, j.Code, tt.query, tt.ec2, tt.json)
		}
		if q.status() != tt.queryStatus || j.status() != tt.jsonStatus || q.Message != "m" {
			t.Errorf("kind %d: query %d %q, json %d", tt.kind, q.status(), q.Message, j.status())
		}
		if q.Server != (tt.kind == failInternal) {
			t.Errorf("kind %d: Server = %v", tt.kind, q.Server)
		}
	}
	if m := (ec2Protocol{}).failure(failThrottled, "").Message; m != "Request limit exceeded." {
		t.Errorf("ec2 throttling message %q", m)
	}
	if s := (ec2Protocol{}).failure(failThrottled, "").status(); s != http.StatusServiceUnavailable {
		t.Errorf("ec2 throttling status %d", s)
	}
}

func TestRoute(t *testing.T) {
	var s services
	for _, svc := range []*service{testQuerySvc, testEC2Svc, testJSONSvc} {
		if err := s.register(svc); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.register(&service{signingName: "ec2", name: "Again", proto: ec2Protocol{}}); err == nil {
		t.Error("a second ec2 was registered")
	}
	signed := func(service string) http.Header {
		return http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=AKID/20250601/us-east-1/" + service +
			"/aws4_request, SignedHeaders=host, Signature=00"}}
	}
	tests := []struct {
		name   string
		header http.Header
		url    string
		body   string
		want   string
	}{
		{"signed ec2", signed("ec2"), "/", "Version=2011-01-01", "ec2"},
		{"signed json", signed("kelptest"), "/", "", "kelptest"},
		{"signed unknown, ec2 version", signed("s3"), "/?Version=2016-11-15", "", "ec2"},
		{"unsigned target", http.Header{targetHeader: {"KelpTest.Echo"}}, "/", "{}", "kelptest"},
		{"unsigned foreign target", http.Header{targetHeader: {"AmazonSQS.SendMessage"}}, "/", "{}", "autoscaling"},
		{"unsigned ec2 version in body", http.Header{"Content-Type": {formContentType}}, "/", "Version=2016-11-15", "ec2"},
		{"unsigned nothing", http.Header{}, "/", "", "autoscaling"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", tt.url, strings.NewReader(tt.body))
		r.Header = tt.header
		if got := s.route(r, []byte(tt.body)).signingName; got != tt.want {
			t.Errorf("%s: routed to %s, want %s", tt.name, got, tt.want)
		}
	}
	if got := s.signingNames(); !slices.Equal(got, []string{"autoscaling", "ec2", "kelptest"}) {
		t.Errorf("signingNames = %v", got)
	}
	if got := quotedList([]string{"autoscaling", "ec2"}); got != "'autoscaling' or 'ec2'" {
		t.Errorf("quotedList = %s", got)
	}
}
