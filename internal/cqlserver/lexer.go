package cqlserver

import (
	"fmt"
	"strings"
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokQuotedIdent
	tokString
	tokInt
	tokFloat
	tokUUID
	tokBlob
	tokPunct
	tokMarker      // ?
	tokNamedMarker // :name
)

type token struct {
	kind tokKind
	text string // identifiers lowercased unless quoted; strings unescaped
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of statement"
	case tokString:
		return "'" + t.text + "'"
	case tokQuotedIdent:
		return `"` + t.text + `"`
	case tokBlob:
		return "0x" + t.text
	case tokNamedMarker:
		return ":" + t.text
	}
	return t.text
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '_'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// uuidAt reports whether a uuid literal starts at s[i].
func uuidAt(s string, i int) bool {
	const shape = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
	if len(s)-i < len(shape) {
		return false
	}
	for j := 0; j < len(shape); j++ {
		c := s[i+j]
		if shape[j] == '-' {
			if c != '-' {
				return false
			}
		} else if !isHex(c) {
			return false
		}
	}
	end := i + len(shape)
	return end == len(s) || !isIdentChar(s[end])
}

// lex splits a CQL statement into tokens, dropping comments (--, // and
// /* */) and whitespace.
func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-', c == '/' && i+1 < len(s) && s[i+1] == '/':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated comment at character %d", i)
			}
			i += end + 4
		case uuidAt(s, i):
			toks = append(toks, token{kind: tokUUID, text: strings.ToLower(s[i : i+36]), pos: i})
			i += 36
		case c == '0' && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X'):
			j := i + 2
			for j < len(s) && isHex(s[j]) {
				j++
			}
			if j < len(s) && isIdentChar(s[j]) {
				return nil, fmt.Errorf("invalid blob literal at character %d", i)
			}
			toks = append(toks, token{kind: tokBlob, text: strings.ToLower(s[i+2 : j]), pos: i})
			i = j
		case isDigit(c):
			j := i
			kind := tokInt
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			if j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
				kind = tokFloat
				j++
				for j < len(s) && isDigit(s[j]) {
					j++
				}
			}
			if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
				k := j + 1
				if k < len(s) && (s[k] == '+' || s[k] == '-') {
					k++
				}
				if k < len(s) && isDigit(s[k]) {
					kind = tokFloat
					j = k
					for j < len(s) && isDigit(s[j]) {
						j++
					}
				}
			}
			if j < len(s) && isIdentChar(s[j]) {
				return nil, fmt.Errorf("invalid number at character %d", i)
			}
			toks = append(toks, token{kind: kind, text: s[i:j], pos: i})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			toks = append(toks, token{kind: tokIdent, text: strings.ToLower(s[i:j]), pos: i})
			i = j
		case c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated quoted identifier at character %d", i)
				}
				if s[j] == '"' {
					if j+1 < len(s) && s[j+1] == '"' {
						b.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if b.Len() == 0 {
				return nil, fmt.Errorf("empty quoted identifier at character %d", i)
			}
			toks = append(toks, token{kind: tokQuotedIdent, text: b.String(), pos: i})
			i = j + 1
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated string at character %d", i)
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, token{kind: tokString, text: b.String(), pos: i})
			i = j + 1
		case c == '$' && i+1 < len(s) && s[i+1] == '$':
			end := strings.Index(s[i+2:], "$$")
			if end < 0 {
				return nil, fmt.Errorf("unterminated $$ string at character %d", i)
			}
			toks = append(toks, token{kind: tokString, text: s[i+2 : i+2+end], pos: i})
			i += end + 4
		case c == '?':
			toks = append(toks, token{kind: tokMarker, text: "?", pos: i})
			i++
		case c == ':' && i+1 < len(s) && (isIdentStart(s[i+1]) || s[i+1] == '"'):
			j := i + 1
			for j < len(s) && (isIdentChar(s[j]) || s[j] == '"') {
				j++
			}
			toks = append(toks, token{kind: tokNamedMarker, text: s[i+1 : j], pos: i})
			i = j
		case c == '<' || c == '>' || c == '!':
			if i+1 < len(s) && s[i+1] == '=' {
				toks = append(toks, token{kind: tokPunct, text: s[i : i+2], pos: i})
				i += 2
			} else if c == '!' {
				return nil, fmt.Errorf("unexpected character '!' at character %d", i)
			} else {
				toks = append(toks, token{kind: tokPunct, text: s[i : i+1], pos: i})
				i++
			}
		case strings.IndexByte("(),;.=*{}[]:+-", c) >= 0:
			toks = append(toks, token{kind: tokPunct, text: s[i : i+1], pos: i})
			i++
		default:
			return nil, fmt.Errorf("unexpected character %q at character %d", rune(c), i)
		}
	}
	toks = append(toks, token{kind: tokEOF, pos: len(s)})
	return toks, nil
}
