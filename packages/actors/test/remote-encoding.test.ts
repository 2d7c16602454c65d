import t from 'tap';
import { Packr } from 'msgpackr';
import { decodeFrame, encode } from '../src/remote/protocol.js';

const batch = {
  t: 'tell' as const,
  to: 'agent',
  msg: { type: 'run', attempts: Array.from({ length: 100 }, (_, i) => ({ attemptId: `at-${i}`, n: i, args: [{ size: i, inline: new Uint8Array([i]) }] })) },
};

t.test('each envelope stands alone: it decodes on its own, in any frame, in any order', async (t) => {
  const first = encode(batch);
  const second = encode({ ...batch, to: 'other' });
  t.same(decodeFrame(second), [{ ...batch, to: 'other' }], 'a later envelope needs none before it');
  t.same(decodeFrame(Buffer.concat([second, first])), [{ ...batch, to: 'other' }, batch], 'envelopes of one frame in any order');
});

t.test('a frame of a peer that encodes without records decodes right after frames with them', async (t) => {
  decodeFrame(encode(batch));
  // Small integers (0x40–0x7f) are also how records are referred to: a decoder that remembered the
  // definitions of the frame before would read these as records.
  const plain = new Packr({ useRecords: false }).pack({ t: 'tell', to: 'agent', msg: { values: [64, 100, 127] } });
  t.same(decodeFrame(plain), [{ t: 'tell', to: 'agent', msg: { values: [64, 100, 127] } }]);
});
