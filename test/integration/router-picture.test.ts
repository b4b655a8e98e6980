// The picture's read cost model (src/changes/router-picture.ts) against the simulator over HTTP:
// the rules a batch touches are read one by one while that is cheaper than one whole read, by what
// the reads so far cost. One slow read (a burst of requests on this process, a router hiccup)
// must not send the batches after it to whole reads of a large config.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RouterPicture } from '../../src/changes/router-picture.js';
import { startSimulator, type Simulator } from '../../src/simulator/simulator.js';
import { VyosClient } from '../../src/vyos/client.js';
import { renderRule } from '../../src/vyos/nat-rule.js';
import type { RouterCommand } from '../../src/vyos/types.js';

const RULES = 10_000;
const FIRST = 10_000;

describe('router picture: touched-rule reads or a whole read', () => {
  let sim: Simulator;
  let router: VyosClient;
  before(async () => {
    const commands: RouterCommand[] = [];
    for (let i = 0; i < RULES; i++) {
      commands.push(...renderRule({ ruleNumber: FIRST + i, protocol: 'tcp', externalPort: String(20_000 + i), translationAddress: '192.168.64.10', internalPort: '22', inboundInterface: 'eth0', disabled: false }, { syntax: '1.4' }));
    }
    sim = await startSimulator({ keys: ['k'], version: 'rolling', initialCommands: commands });
    router = new VyosClient({ url: sim.url, key: 'k' });
  });
  after(async () => {
    await sim?.close();
  });

  const wholeReads = (since: number) => sim.showConfigPaths.slice(since).filter((p) => p.length === 2).length;

  test('after one slow single-rule read among quick ones, ten touched rules are still read one by one', async () => {
    const picture = new RouterPicture({ wanInterface: 'eth0', maxAgeMs: 60_000 });
    await picture.readWhole(router);
    for (let i = 0; i < 4; i++) await picture.readRules(router, [FIRST + i]);
    // One read the router takes a second over: far beyond what a whole read of 10,000 rules costs here.
    sim.faults.slow(1000, 1);
    await picture.readRules(router, [FIRST + 4]);
    for (let i = 5; i < 8; i++) await picture.readRules(router, [FIRST + i]);

    const since = sim.showConfigPaths.length;
    const read = await picture.readRules(router, Array.from({ length: 10 }, (_, i) => FIRST + 100 + i));
    assert.equal(read.size, 10);
    assert.equal(wholeReads(since), 0, 'ten one-rule reads, not the whole tree');
    assert.equal(sim.showConfigPaths.length - since, 10);
  });

  test('when single-rule reads cost what a whole read does, a batch of many reads the whole tree once', async () => {
    const picture = new RouterPicture({ wanInterface: 'eth0', maxAgeMs: 60_000 });
    await picture.readWhole(router);
    // Every read slow alike: a router whose every /retrieve builds its whole config (research §6).
    sim.faults.slow(300, 5);
    for (let i = 0; i < 3; i++) await picture.readRules(router, [FIRST + i]);
    sim.faults.slow(0, 0);
    const since = sim.showConfigPaths.length;
    const numbers = Array.from({ length: 40 }, (_, i) => FIRST + 200 + i);
    const read = await picture.readRules(router, numbers);
    assert.ok(numbers.every((n) => read.has(n)));
    assert.equal(wholeReads(since), 1);
    assert.equal(sim.showConfigPaths.length - since, 1);
  });

  // The client keeps a large showConfig reply with its parse (src/vyos/client.ts): an unchanged
  // router is still asked every time (nothing else says whether its config changed), but its
  // byte-identical answer is not parsed again. A change of one character must still be seen.
  test('a whole read of an unchanged router reuses the last parse, and a hand edit of one rule is still seen', async () => {
    const picture = new RouterPicture({ wanInterface: 'eth0', maxAgeMs: 60_000 });
    const since = sim.showConfigPaths.length;
    const first = await picture.readWhole(router);
    const again = await picture.readWhole(router);
    assert.equal(wholeReads(since), 2, 'the router answered both reads');
    assert.equal(again, first, 'the same answer, not parsed again');

    const n = FIRST + 4321;
    sim.apply([{ op: 'set', path: ['nat', 'destination', 'rule', String(n), 'description', 'edited by hand'] }]);
    const edited = await picture.readWhole(router);
    assert.notEqual(edited, first);
    assert.equal(edited.get(n)?.description, 'edited by hand');
    assert.equal(picture.rules.get(n)?.description, 'edited by hand');
    assert.equal(edited.size, RULES);

    sim.apply([{ op: 'delete', path: ['nat', 'destination', 'rule', String(n), 'description'] }]);
    const back = await picture.readWhole(router);
    assert.equal(back.get(n)?.description, undefined, 'the edit undone is seen too, not the kept earlier answer mistaken for it');
    assert.equal(picture.rules.get(n)?.description, undefined);
  });
});
