// vyos1x-config's reading of showConfig values (research §6), as the simulator models it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lexedValue, showConfigQuotes } from '../../src/simulator/config-lexer';
import { PROFILE_ALIASES, SIMULATOR_PROFILES, simulatorProfile } from '../../src/simulator/profiles';

test('showConfig quotes a value that is empty or holds a space, a tab, CR/LF/VT/FF or one of *{};', () => {
  for (const v of ['', 'a b', 'a\tb', 'a*', 'a{', 'a}', 'a;']) assert.equal(showConfigQuotes(v), true, JSON.stringify(v));
  for (const v of ['abc', 'C:\\vms', '10.0.0.0/24', 'a#b', 'a/b']) assert.equal(showConfigQuotes(v), false, JSON.stringify(v));
});

test('inside quotes only \\/ \\\\ \\b \\f \\n \\r \\t \\\' \\" are escapes; anything else, or a trailing backslash, fails', () => {
  assert.equal(lexedValue('a\\tb c'), 'a\tb c');
  assert.equal(lexedValue('a\\\\b c'), 'a\\b c');
  assert.equal(lexedValue('x \\/ \\b\\f\\n\\r'), 'x / \b\f\n\r');
  assert.equal(lexedValue('C:\\vms web'), null);
  assert.equal(lexedValue('ends with \\'), null);
  assert.equal(lexedValue('C:\\vms'), 'C:\\vms', 'unquoted: an IDENTIFIER, the backslash survives');
});

test('profiles: names are unique, aliases resolve, unknown names throw', () => {
  const names = SIMULATOR_PROFILES.map((p) => p.name);
  assert.equal(new Set(names).size, names.length);
  for (const [alias, name] of Object.entries(PROFILE_ALIASES)) assert.equal(simulatorProfile(alias).name, name);
  assert.throws(() => simulatorProfile('2.0'), /unknown VyOS version/);
  for (const p of SIMULATOR_PROFILES) assert.equal(p.confirmOrder === null, !p.commitConfirm, p.name);
});
