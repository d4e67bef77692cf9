// Unit tests of the spec highlighter: classes per token, and escaping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { highlight, highlightLine } from '../../frontend/js/yaml.js';

test('tokens get their classes', () => {
  const cases = [
    ['experiments:', '<span class="y-k">experiments</span><span class="y-p">:</span>'],
    ['  image_size: 32', '  <span class="y-k">image_size</span><span class="y-p">:</span> <span class="y-n">32</span>'],
    ['    - name: pixelgauss', '    <span class="y-p">- </span><span class="y-k">name</span><span class="y-p">:</span> pixelgauss'],
    ['  histogram_equalization: [false, true]',
      '  <span class="y-k">histogram_equalization</span><span class="y-p">:</span> <span class="y-p">[</span><span class="y-b">false</span><span class="y-p">,</span> <span class="y-b">true</span><span class="y-p">]</span>'],
    ['  synthetic: {patients: 40}',
      '  <span class="y-k">synthetic</span><span class="y-p">:</span> <span class="y-p">{</span><span class="y-k">patients</span><span class="y-p">:</span> <span class="y-n">40</span><span class="y-p">}</span>'],
    ['# a comment', '<span class="y-c"># a comment</span>'],
    ['  root: "/data/x" # where', '  <span class="y-k">root</span><span class="y-p">:</span> <span class="y-s">&quot;/data/x&quot;</span> <span class="y-c"># where</span>'],
    ['  - 42', '  <span class="y-p">- </span><span class="y-n">42</span>'],
    ['', ''],
  ];
  for (const [line, want] of cases) assert.equal(highlightLine(line), want, JSON.stringify(line));
});

test('markup in a spec is escaped', () => {
  assert.equal(highlightLine('x: <script>'), '<span class="y-k">x</span><span class="y-p">:</span> &lt;script&gt;');
  assert.equal(highlightLine('<b>: 1'), '<span class="y-k">&lt;b&gt;</span><span class="y-p">:</span> <span class="y-n">1</span>');
});

test('one entry per line', () => {
  assert.equal(highlight('a: 1\r\nb: 2\n').length, 3);
});
