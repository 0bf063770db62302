package localcloud

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// timeFormat is how both APIs render timestamps (ISO 8601, milliseconds, UTC).
const timeFormat = "2006-01-02T15:04:05.000Z"

// members is a list rendered the query way: one <member> per element.
type members[T any] []T

// MarshalXML implements xml.Marshaler.
func (l members[T]) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return encodeList(e, start, "member", l)
}

// items is a list rendered the ec2 way: one <item> per element.
type items[T any] []T

// MarshalXML implements xml.Marshaler.
func (l items[T]) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return encodeList(e, start, "item", l)
}

func encodeList[T any](e *xml.Encoder, start xml.StartElement, member string, l []T) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for i := range l {
		if err := e.EncodeElement(l[i], xml.StartElement{Name: xml.Name{Local: member}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// xmlTime renders a time in timeFormat.
type xmlTime time.Time

// MarshalText implements encoding.TextMarshaler.
func (t xmlTime) MarshalText() ([]byte, error) {
	return []byte(time.Time(t).UTC().Format(timeFormat)), nil
}

// tsp returns t as an *xmlTime, nil for the zero time (omitted with omitempty).
func tsp(t time.Time) *xmlTime {
	if t.IsZero() {
		return nil
	}
	x := xmlTime(t)
	return &x
}

func ptr[T any](v T) *T { return &v }

// ec2Meta is embedded first in every EC2 response body.
type ec2Meta struct {
	RequestID string `xml:"requestId"`
}

func (m *ec2Meta) setRequestID(id string) { m.RequestID = id }

// ec2Response is what an EC2 handler returns: a body struct embedding ec2Meta.
type ec2Response interface{ setRequestID(string) }

// ec2Return is the body of EC2 actions that answer only <return>true</return>.
type ec2Return struct {
	ec2Meta
	Return bool `xml:"return"`
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// encodeAS renders a query-protocol response: <ActionResponse
// xmlns=...><ActionResult>result</ActionResult><ResponseMetadata>. A nil
// result omits the ActionResult element (actions without output).
func encodeAS(namespace, action, requestID string, result any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	start := xml.StartElement{Name: xml.Name{Space: namespace, Local: action + "Response"}}
	if err := enc.EncodeToken(start); err != nil {
		return nil, fmt.Errorf("encode %s response: %w", action, err)
	}
	if result != nil {
		if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			return nil, fmt.Errorf("encode %s result: %w", action, err)
		}
	}
	meta := xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}
	if err := enc.EncodeElement(responseMetadata{RequestID: requestID}, meta); err != nil {
		return nil, fmt.Errorf("encode %s metadata: %w", action, err)
	}
	if err := enc.EncodeToken(start.End()); err != nil {
		return nil, fmt.Errorf("encode %s response: %w", action, err)
	}
	if err := enc.Flush(); err != nil {
		return nil, fmt.Errorf("encode %s response: %w", action, err)
	}
	return buf.Bytes(), nil
}

// encodeEC2 renders an ec2-protocol response: <ActionResponse
// xmlns=...><requestId>..</requestId>fields...</ActionResponse>.
func encodeEC2(namespace, action, requestID string, body ec2Response) ([]byte, error) {
	body.setRequestID(requestID)
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	start := xml.StartElement{Name: xml.Name{Space: namespace, Local: action + "Response"}}
	if err := enc.EncodeElement(body, start); err != nil {
		return nil, fmt.Errorf("encode %s response: %w", action, err)
	}
	return buf.Bytes(), nil
}

type queryErrorResponse struct {
	XMLName xml.Name
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

type ec2ErrorResponse struct {
	XMLName xml.Name `xml:"Response"`
	Errors  struct {
		Error struct {
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
	} `xml:"Errors"`
	RequestID string `xml:"RequestID"`
}

// encodeQueryError renders e as the query protocol does: <ErrorResponse
// xmlns=...><Error><Type>Sender|Receiver</Type><Code>...
func encodeQueryError(namespace, requestID string, e *apiError) []byte {
	r := queryErrorResponse{XMLName: xml.Name{Space: namespace, Local: "ErrorResponse"}, RequestID: requestID}
	r.Error.Type = "Sender"
	if e.Server {
		r.Error.Type = "Receiver"
	}
	r.Error.Code, r.Error.Message = e.Code, e.Message
	return marshalXML(r)
}

// encodeEC2Error renders e as the ec2 protocol does:
// <Response><Errors><Error><Code>...
func encodeEC2Error(requestID string, e *apiError) []byte {
	var r ec2ErrorResponse
	r.Errors.Error.Code, r.Errors.Error.Message, r.RequestID = e.Code, e.Message, requestID
	return marshalXML(r)
}

func marshalXML(v any) []byte {
	out, err := xml.Marshal(v)
	if err != nil { // only strings: cannot fail
		return []byte(xml.Header)
	}
	return append([]byte(xml.Header), out...)
}

// writeResponse writes a body of the content type with its status.
func writeResponse(w http.ResponseWriter, status int, requestID, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("x-amzn-RequestId", requestID)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
