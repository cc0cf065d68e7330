package mcpguard

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/jwtguard/jwtguard/internal/jsonscan"
)

// headersChecked is the first protocol version whose Mcp-Method and
// Mcp-Name headers the SDK checks against the body (refusing a mismatch
// with 400 before any handler runs), so they can be trusted instead of
// reading the body. Versions are dates: they compare as strings, as the
// SDK compares them.
const headersChecked = "2026-07-28"

// named are the methods whose operation has a name, and its member in
// params.
var named = map[string]string{
	"tools/call": "name", "prompts/get": "name", "resources/read": "uri",
	"resources/subscribe": "uri", "resources/unsubscribe": "uri",
}

// nameChecked are the methods whose Mcp-Name the SDK checks against the
// body; another named method's name is read from the body.
var nameChecked = map[string]bool{"tools/call": true, "prompts/get": true, "resources/read": true}

// listen is the method (protocol 2026-07-28) whose params subscribe to
// resources, as resources/subscribe did: each URI in
// notifications.resourceSubscriptions is one subscription, and needs what
// subscribing to it does. Only the body names them.
const listen = "subscriptions/listen"

// operations calls visit with each operation of a POST, leaving its body
// for the SDK to read again; or returns the status and error to refuse it
// with.
func (m *Middleware) operations(r *http.Request, visit func(operation)) (int, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return 0, nil
	}
	if method := r.Header.Get("Mcp-Method"); r.Header.Get("Mcp-Protocol-Version") >= headersChecked &&
		(nameChecked[method] || (method != "" && method != listen && named[method] == "")) {
		// A batch is not allowed in these versions (the SDK refuses it),
		// so the body's first byte is all the headers need to stand for
		// it.
		first, err := m.peek(r)
		if err != nil {
			if errors.Is(err, ErrBodyTooLarge) {
				return http.StatusRequestEntityTooLarge, err
			}
			return http.StatusBadRequest, ErrUnreadableMessage
		}
		if first == '{' {
			visit(operation{method, r.Header.Get("Mcp-Name")})
			return 0, nil
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, m.maxBody+1))
	if err != nil {
		return http.StatusBadRequest, ErrUnreadableMessage
	}
	if int64(len(body)) > m.maxBody {
		return http.StatusRequestEntityTooLarge, ErrBodyTooLarge
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := parse(body, m.maxOps, visit); err != nil {
		return http.StatusBadRequest, err
	}
	return 0, nil
}

// peek returns the body's first byte that is not white space, and puts
// what it read back in front of the rest. It looks at each byte once, and
// no further than the body limit.
func (m *Middleware) peek(r *http.Request) (byte, error) {
	var buf []byte
	chunk := make([]byte, 512)
	for {
		n, err := r.Body.Read(chunk)
		from := len(buf)
		buf = append(buf, chunk[:n]...)
		if i := jsonscan.SkipWS(buf, from); i < len(buf) {
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
			return buf[i], nil
		}
		if int64(len(buf)) > m.maxBody {
			return 0, ErrBodyTooLarge
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, err
		}
	}
}

// parse reads the operations of a JSON-RPC message or batch, and calls
// visit with each as it reads it: nothing is kept per operation, so what
// a caller keeps is bounded by what it makes of them (Wrap keeps their
// distinct rules). It reads members as the SDK does (names
// case-sensitive, escapes decoded) and refuses what two parsers could read
// differently (ErrUnreadableMessage): invalid JSON, a repeated member
// name, a method or name that is not a string. Past limit operations it
// stops, with ErrTooManyOperations: visit has then seen some of the
// operations, and the caller must refuse the body.
func parse(body []byte, limit int, visit func(operation)) error {
	if !jsonscan.Valid(body) {
		return ErrUnreadableMessage
	}
	n := 0
	count := func(op operation) error {
		if n++; n > limit {
			return ErrTooManyOperations
		}
		visit(op)
		return nil
	}
	i := jsonscan.SkipWS(body, 0)
	if body[i] != '[' {
		return parseMessage(body, count)
	}
	i = jsonscan.SkipWS(body, i+1)
	for i < len(body) && body[i] != ']' {
		end := jsonscan.SkipValue(body, i)
		if err := parseMessage(body[i:end], count); err != nil {
			return err
		}
		i = jsonscan.SkipWS(body, end)
		if i < len(body) && body[i] == ',' {
			i = jsonscan.SkipWS(body, i+1)
		}
	}
	return nil
}

// parseMessage hands visit the operations of one message: its own, and
// for subscriptions/listen one resources/subscribe per URI it subscribes
// to. An error from visit stops it, and is its answer.
func parseMessage(msg []byte, visit func(operation) error) error {
	var op operation
	var params []byte
	ok := true
	if !jsonscan.Members(msg, func(name, value []byte) bool {
		switch string(name) {
		case "method":
			op.method, ok = jsonscan.String(value)
		case "params":
			params = value
		}
		return ok
	}) || !ok {
		return ErrUnreadableMessage
	}
	if op.method == listen {
		if err := visit(op); err != nil {
			return err
		}
		return subscriptions(params, func(uri string) error {
			return visit(operation{"resources/subscribe", uri})
		})
	}
	if member, hasName := named[op.method]; hasName && params != nil {
		if op.name, ok = member1(params, member); !ok {
			return ErrUnreadableMessage
		}
	}
	return visit(op)
}

// member1 is the string member name of the object obj ("" when absent);
// false when obj is not an object, repeats a member, or the member is not
// a string. A JSON null params is no params.
func member1(obj []byte, name string) (string, bool) {
	v, ok := member(obj, name)
	if !ok {
		return "", false
	}
	if v == nil {
		return "", true
	}
	return jsonscan.String(v)
}

// member is the raw value of the member name of the object obj: nil when
// absent, or when obj is nil or JSON null; false when obj is not an object
// or repeats a member.
func member(obj []byte, name string) ([]byte, bool) {
	if obj == nil || isNull(obj) {
		return nil, true
	}
	var v []byte
	if !jsonscan.Members(obj, func(n, value []byte) bool {
		if string(n) == name {
			v = value
		}
		return true
	}) {
		return nil, false
	}
	return v, true
}

// subscriptions calls visit with each URI of a subscriptions/listen's
// params.notifications.resourceSubscriptions, in order, until it returns
// an error; ErrUnreadableMessage when they are not an array of strings.
func subscriptions(params []byte, visit func(uri string) error) error {
	notif, ok := member(params, "notifications")
	if !ok {
		return ErrUnreadableMessage
	}
	list, ok := member(notif, "resourceSubscriptions")
	if !ok {
		return ErrUnreadableMessage
	}
	if list == nil || isNull(list) {
		return nil
	}
	i := jsonscan.SkipWS(list, 0)
	if list[i] != '[' {
		return ErrUnreadableMessage
	}
	for i = jsonscan.SkipWS(list, i+1); i < len(list) && list[i] != ']'; {
		end := jsonscan.SkipValue(list, i)
		u, ok := jsonscan.String(list[i:end])
		if !ok {
			return ErrUnreadableMessage
		}
		if err := visit(u); err != nil {
			return err
		}
		i = jsonscan.SkipWS(list, end)
		if i < len(list) && list[i] == ',' {
			i = jsonscan.SkipWS(list, i+1)
		}
	}
	return nil
}

func isNull(v []byte) bool {
	i := jsonscan.SkipWS(v, 0)
	return i+4 <= len(v) && string(v[i:i+4]) == "null"
}
