import assert from 'node:assert/strict';
import {
  findPropertyReferences,
  layeredLookup,
  lookupProperty,
  mergePropertyLayers,
  substituteProperties,
  type PropertyLayer,
} from '../../../common/dsl/properties.js';

const lookupIn =
  (props: Record<string, string>) =>
  (name: string): string | undefined =>
    props[name];

describe('property layers', () => {
  const layers: PropertyLayer[] = [{ a: 'job' }, { a: 'flow', b: 'flow' }, { c: '' }];

  it('finds a property in the first layer that defines it', () => {
    assert.equal(lookupProperty(layers, 'a'), 'job');
    assert.equal(lookupProperty(layers, 'b'), 'flow');
    assert.equal(lookupProperty(layers, 'c'), '');
    assert.equal(lookupProperty(layers, 'd'), undefined);
  });

  it('does not find inherited object members', () => {
    assert.equal(lookupProperty(layers, 'toString'), undefined);
    assert.equal(layeredLookup(layers)('constructor'), undefined);
  });

  it('merges layers with the earlier one winning', () => {
    assert.deepEqual(mergePropertyLayers(layers), { a: 'job', b: 'flow', c: '' });
  });
});

describe('substituting ${name} in a value', () => {
  it('replaces each reference with its value', () => {
    assert.deepEqual(substituteProperties('echo Hello, ${greeting.name}! ${n}${n}', lookupIn({ 'greeting.name': 'world', n: '1' })), {
      ok: true,
      value: 'echo Hello, world! 11',
    });
  });

  it('substitutes values that refer to other properties', () => {
    const props = { base: '/data', dir: '${base}/in', cmd: 'ls ${dir}' };
    assert.deepEqual(substituteProperties('${cmd} && echo ${base}', lookupIn(props)), { ok: true, value: 'ls /data/in && echo /data' });
  });

  it('leaves shell syntax and text that is not a reference alone', () => {
    const text = 'bash -c "echo $HOME $$ ${a:-b} ${ spaced } $(date) ${}"';
    assert.deepEqual(substituteProperties(text, lookupIn({})), { ok: true, value: text });
  });

  it('does not substitute again inside a substituted value', () => {
    assert.deepEqual(substituteProperties('${a}', lookupIn({ a: '$${b}', b: 'x' })), { ok: true, value: '$x' });
    assert.deepEqual(substituteProperties('${a}', lookupIn({ a: '$', b: 'x' })), { ok: true, value: '$' });
  });

  it('fails naming an undefined property', () => {
    assert.deepEqual(substituteProperties('echo ${missing}', lookupIn({})), { ok: false, message: 'unresolved property ${missing}' });
  });

  it('fails naming an undefined property and the one that referred to it', () => {
    assert.deepEqual(substituteProperties('echo ${dir}', lookupIn({ dir: '${base}/x' })), {
      ok: false,
      message: 'unresolved property ${base} (referenced by ${dir})',
    });
  });

  it('fails on properties that refer to each other in a circle', () => {
    assert.deepEqual(substituteProperties('${a}', lookupIn({ a: 'x${b}', b: '${c}', c: '${a}' })), {
      ok: false,
      message: 'circular property reference: ${a} -> ${b} -> ${c} -> ${a}',
    });
    assert.deepEqual(substituteProperties('${self}', lookupIn({ self: '${self}' })), {
      ok: false,
      message: 'circular property reference: ${self} -> ${self}',
    });
  });

  it('substitutes an empty value', () => {
    assert.deepEqual(substituteProperties('[${e}]', lookupIn({ e: '' })), { ok: true, value: '[]' });
  });

  it('lists the references of a text in order, without repeats', () => {
    assert.deepEqual(findPropertyReferences('${b} ${a.x} ${b} $c ${d-e}'), ['b', 'a.x']);
  });
});
