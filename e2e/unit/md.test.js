// Unit tests of the dashboard's Markdown renderer: output and safety.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderMarkdown, safeURL, escapeHTML } from '../../frontend/js/md.js';

test('blocks and inline elements', () => {
  const cases = [
    ['plain', '<p>plain</p>'],
    ['# Title\n\ntext', '<h1>Title</h1>\n<p>text</p>'],
    ['### Deep ###', '<h3>Deep</h3>'],
    ['a *b* **c** _d_ __e__ `f*g*`', '<p>a <em>b</em> <strong>c</strong> <em>d</em> <strong>e</strong> <code>f*g*</code></p>'],
    ['snake_case_name stays', '<p>snake_case_name stays</p>'],
    ['line one\nline two\n\nnext', '<p>line one\nline two</p>\n<p>next</p>'],
    ['- a\n- b *c*\n  more', '<ul><li>a</li><li>b <em>c</em>\nmore</li></ul>'],
    ['3. x\n4. y', '<ol start="3"><li>x</li><li>y</li></ol>'],
    ['para\n- item', '<p>para</p>\n<ul><li>item</li></ul>'],
    ['```yaml\nkey: <v>\n```\nafter', '<pre><code class="language-yaml">key: &lt;v&gt;</code></pre>\n<p>after</p>'],
    ['> quoted\n> *more*', '<blockquote><p>quoted\n<em>more</em></p></blockquote>'],
    ['---', '<hr>'],
    ['[paper](https://example.org/a?b=1&c=2)', '<p><a href="https://example.org/a?b=1&amp;c=2" rel="noopener noreferrer">paper</a></p>'],
    ['[run](#/runs/3) and [**bold**](/api/runs/3)', '<p><a href="#/runs/3" rel="noopener noreferrer">run</a> and <a href="/api/runs/3" rel="noopener noreferrer"><strong>bold</strong></a></p>'],
  ];
  for (const [src, want] of cases) assert.equal(renderMarkdown(src), want, JSON.stringify(src));
});

test('headings shift below the page', () => {
  assert.equal(renderMarkdown('# A\n###### B', 2), '<h3>A</h3>\n<h6>B</h6>');
});

test('nothing from the source becomes markup', () => {
  const cases = [
    ['<script>alert(1)</script>', '<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>'],
    ['<img src=x onerror=alert(1)>', '<p>&lt;img src=x onerror=alert(1)&gt;</p>'],
    ['[x](javascript:alert(1))', '<p>[x](javascript:alert(1))</p>'],
    ['[x](javascript:alert)', '<p>x</p>'],
    ['[x](JaVaScRiPt:alert)', '<p>x</p>'],
    ['[x](data:text/html;base64,AAAA)', '<p>x</p>'],
    ['[x](vbscript:msgbox)', '<p>x</p>'],
    ['[a"b](/p"onmouseover="x)', '<p><a href="/p&quot;onmouseover=&quot;x" rel="noopener noreferrer">a&quot;b</a></p>'],
    ['# <b>t</b>', '<h1>&lt;b&gt;t&lt;/b&gt;</h1>'],
    ['`<i>`', '<p><code>&lt;i&gt;</code></p>'],
  ];
  for (const [src, want] of cases) assert.equal(renderMarkdown(src), want, JSON.stringify(src));
});

test('safeURL allows only http(s), mailto and relative targets', () => {
  const cases = [
    ['https://a.b/c', 'https://a.b/c'], ['HTTP://a', 'HTTP://a'], ['mailto:x@y.z', 'mailto:x@y.z'],
    ['/api/x', '/api/x'], ['#/runs/1', '#/runs/1'], ['rel/path', 'rel/path'], ['?q=1', '?q=1'],
    ['javascript:x', null], ['java\tscript:x', null], [' javascript:x', null], ['java\u0000script:x', null],
    ['data:x', null], ['file:///etc/passwd', null], ['', null],
  ];
  for (const [u, want] of cases) assert.equal(safeURL(u), want, JSON.stringify(u));
});

test('escapeHTML escapes the five characters', () => {
  assert.equal(escapeHTML(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
});
