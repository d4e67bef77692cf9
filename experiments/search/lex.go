package search

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tQuoted // `name`
	tString // 'text' or "text"
	tNumber
	tOp
	tLParen
	tRParen
	tComma
	tDot
)

type token struct {
	kind tokKind
	text string // the name, the unquoted string, the operator
	pos  int    // 1-based character position
}

func (t token) upper() string { return strings.ToUpper(t.text) }

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "the end of the expression"
	case tString:
		return fmt.Sprintf("the string %q", t.text)
	case tQuoted:
		return fmt.Sprintf("the name `%s`", t.text)
	case tNumber:
		return "the number " + t.text
	case tIdent:
		return fmt.Sprintf("%q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lex splits p.src into tokens, ending with tEOF.
func (p *parser) lex() ([]token, error) {
	src := p.src
	var out []token
	pos := func(off int) int { return utf8.RuneCountInString(src[:off]) + 1 }
	i := 0
	for {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
			i++
		}
		if i >= len(src) {
			out = append(out, token{kind: tEOF, pos: pos(i)})
			return out, nil
		}
		start := i
		c := src[i]
		switch {
		case isIdentStart(c):
			for i < len(src) && (isIdentStart(src[i]) || isDigit(src[i])) {
				i++
			}
			out = append(out, token{tIdent, src[start:i], pos(start)})
		case isDigit(c) || ((c == '-' || c == '+') && i+1 < len(src) && (isDigit(src[i+1]) || src[i+1] == '.')):
			i++
			for i < len(src) && (isDigit(src[i]) || src[i] == '.' ||
				src[i] == 'e' || src[i] == 'E' ||
				((src[i] == '-' || src[i] == '+') && (src[i-1] == 'e' || src[i-1] == 'E'))) {
				i++
			}
			out = append(out, token{tNumber, src[start:i], pos(start)})
		case c == '`':
			end := strings.IndexByte(src[i+1:], '`')
			if end < 0 {
				return nil, p.errAt(pos(start), "unterminated backtick-quoted name")
			}
			name := src[i+1 : i+1+end]
			if name == "" {
				return nil, p.errAt(pos(start), "empty backtick-quoted name")
			}
			i += end + 2
			out = append(out, token{tQuoted, name, pos(start)})
		case c == '\'' || c == '"':
			var b strings.Builder
			i++
			closed := false
			for i < len(src) {
				if src[i] == '\\' && i+1 < len(src) {
					b.WriteByte(src[i+1])
					i += 2
					continue
				}
				if src[i] == c {
					if i+1 < len(src) && src[i+1] == c { // '' inside '...', as in SQL
						b.WriteByte(c)
						i += 2
						continue
					}
					closed = true
					i++
					break
				}
				b.WriteByte(src[i])
				i++
			}
			if !closed {
				return nil, p.errAt(pos(start), "unterminated string")
			}
			out = append(out, token{tString, b.String(), pos(start)})
		case c == '=':
			i++
			if i < len(src) && src[i] == '=' { // == as a synonym of =
				i++
			}
			out = append(out, token{tOp, "=", pos(start)})
		case c == '!' || c == '<' || c == '>':
			i++
			if i < len(src) && (src[i] == '=' || (c == '<' && src[i] == '>')) {
				i++
			}
			op := src[start:i]
			if op == "!" {
				return nil, p.errAt(pos(start), "unexpected \"!\" (did you mean !=?)")
			}
			out = append(out, token{tOp, op, pos(start)})
		case c == '(':
			i++
			out = append(out, token{tLParen, "(", pos(start)})
		case c == ')':
			i++
			out = append(out, token{tRParen, ")", pos(start)})
		case c == ',':
			i++
			out = append(out, token{tComma, ",", pos(start)})
		case c == '.':
			i++
			out = append(out, token{tDot, ".", pos(start)})
		case c == '/':
			return nil, p.errAt(pos(start), "unexpected \"/\" (quote names containing / with backticks: metrics.`test/mse/roc_auc`)")
		default:
			r, _ := utf8.DecodeRuneInString(src[i:])
			return nil, p.errAt(pos(start), "unexpected character %q", r)
		}
	}
}
