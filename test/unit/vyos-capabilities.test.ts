import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { commitConfirmFromProbe, confirmOrderFromReply, deriveCapabilities, natSyntaxOf, versionFromShowVersion } from '../../src/vyos/capabilities';
import { isEmptyPathMessage, readReply } from '../../src/vyos/envelope';
import { RouterErrorKind } from '../../src/vyos/types';

describe('capabilities (vyos-api.md §4, §5): decided by what the router does, never by its name', () => {
  it('§4 the commit-confirm probe: a refusal naming confirm_time means yes, an unknown op means no, anything else decides nothing', () => {
    // 2025 models with commit-confirm: pydantic refuses the non-integer confirm_time before the handler runs
    assert.equal(commitConfirmFromProbe("{'type': 'int_type', 'loc': ('body', 'confirm_time'), 'msg': 'Input should be a valid integer', 'input': 'probe'}"), true);
    // older models ignore the field; the handler refuses the op (1.3 quotes it with ")
    assert.equal(commitConfirmFromProbe("'vyos-vm-api-probe' is not a valid operation"), false);
    assert.equal(commitConfirmFromProbe('"vyos-vm-api-probe" is not a valid operation'), false);
    assert.equal(commitConfirmFromProbe('An internal error occured. Check the logs for details.'), null);
  });

  it('§4 no name decides commit-confirm: the probe does, and an unsure probe takes the safe path', () => {
    for (const version of ['2025.04.04-0018-rolling', '1.5-stream-2025-Q1', '2025.07.28-0022-rolling', '1.4.0']) {
      assert.equal(deriveCapabilities({ version, probed: null }).commitConfirm, false, version);
      assert.equal(deriveCapabilities({ version, probed: null }).commitConfirmBasis, 'unsure');
      assert.equal(deriveCapabilities({ version, probed: true }).commitConfirm, true, version);
      assert.equal(deriveCapabilities({ version, probed: false }).commitConfirmBasis, 'probe');
    }
  });

  it('§4 the commit-confirm order, from the reply to our own commit-confirm commit', () => {
    assert.equal(confirmOrderFromReply('Initialized commit-confirm; 1 minutes to confirm before reload\n'), 'arm-first');
    assert.equal(confirmOrderFromReply('\nInitialized commit-confirm; 1 minutes to confirm before reload\n'), 'commit-first');
    assert.equal(confirmOrderFromReply('Warning: something\nInitialized commit-confirm; 1 minutes to confirm before reload\n'), 'commit-first');
    assert.equal(confirmOrderFromReply(null), 'unknown');
  });

  it('§5 NAT syntax: 1.3 only for 1.3.x', () => {
    assert.equal(natSyntaxOf('1.3.8'), '1.3');
    assert.equal(natSyntaxOf('1.4.0'), '1.4');
    assert.equal(natSyntaxOf('2025.11.20-0020-rolling'), '1.4');
    assert.equal(natSyntaxOf('unknown'), '1.4');
  });

  it('overrides win', () => {
    assert.deepEqual(deriveCapabilities({ version: '1.3.8', probed: false }, { commitConfirm: 'on', syntax: '1.4' }), {
      version: '1.3.8',
      commitConfirm: true,
      commitConfirmBasis: 'setting',
      confirmOrder: 'unknown',
      syntax: '1.4',
    });
    assert.equal(deriveCapabilities({ version: '2025.11.20-0020-rolling', probed: true }, { commitConfirm: 'off' }).commitConfirm, false);
  });

  it('§5 reads the version out of /show version', () => {
    assert.equal(versionFromShowVersion('\nVersion:          VyOS 1.3.8\nRelease train:    equuleus\n'), '1.3.8');
    assert.equal(versionFromShowVersion('Version:          VyOS 1.5-rolling-202410210031\n'), '1.5-rolling-202410210031');
    assert.equal(versionFromShowVersion('no version here'), undefined);
  });
});

describe('readReply (vyos-api.md §1)', () => {
  it('§1 success envelope under any content type gives data', () => {
    assert.deepEqual(readReply(200, '{"success": true, "data": {"a": "1"}, "error": null}'), { ok: true, data: { a: '1' } });
    assert.deepEqual(readReply(200, '{"success": true, "error": null}'), { ok: true, data: null });
  });

  it('§1 400/422 success:false is REJECTED with the error text, HTML escapes of newer builds undone (users see <, not &lt;)', () => {
    const text = 'Destination NAT configuration error in rule 10: &lt;x&gt; &amp; y\n\n[[nat]] failed\nCommit failed\n';
    const r = readReply(400, JSON.stringify({ success: false, error: text, data: null }));
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.kind, RouterErrorKind.REJECTED);
    assert.equal(!r.ok && r.routerMessage, 'Destination NAT configuration error in rule 10: <x> & y\n\n[[nat]] failed\nCommit failed\n');
    const r422 = readReply(422, '{"success": false, "error": "Non-empty data field is required", "data": null}');
    assert.equal(!r422.ok && r422.kind, RouterErrorKind.REJECTED);
  });

  it('§4 §6 a pending commit-confirm or a held commit lock is BUSY, not REJECTED', () => {
    for (const error of ['Another confirm is pending\n', 'Configuration system temporarily locked due to another commit in progress\n']) {
      const r = readReply(400, JSON.stringify({ success: false, error, data: null }));
      assert.equal(!r.ok && r.kind, RouterErrorKind.BUSY, error);
    }
  });

  it("§1 1.3's nginx answers a 502/503 as HTTP 200 {\"error\"} with no success: a server error (a write's outcome is unknown)", () => {
    const r = readReply(200, '{"error": "502 Bad Gateway"}');
    assert.equal(!r.ok && r.kind, RouterErrorKind.SERVER_ERROR);
  });

  it('§1 401 is UNAUTHORIZED, 5xx SERVER_ERROR, with or without the envelope', () => {
    const kind = (status: number, text: string) => {
      const r = readReply(status, text);
      return r.ok ? 'ok' : r.kind;
    };
    assert.equal(kind(401, '{"success": false, "error": "Valid API key is required", "data": null}'), RouterErrorKind.UNAUTHORIZED);
    assert.equal(kind(500, '{"success": false, "error": "An internal error occured. Check the logs for details.", "data": null}'), RouterErrorKind.SERVER_ERROR);
    assert.equal(kind(503, '<html>503 Service Temporarily Unavailable</html>'), RouterErrorKind.SERVER_ERROR);
    assert.equal(kind(504, '<html>504 Gateway Time-out</html>'), RouterErrorKind.SERVER_ERROR);
  });

  it("§1 FastAPI's {detail}, HTML, and non-objects are PROTOCOL", () => {
    for (const [status, text] of [
      [404, '{"detail":"Not Found"}'],
      [405, '{"detail":"Method Not Allowed"}'],
      [200, '<html></html>'],
      [200, '[true]'],
      [200, '{"success": "yes"}'],
    ] as const) {
      const r = readReply(status, text);
      assert.equal(!r.ok && r.kind, RouterErrorKind.PROTOCOL, `${status} ${text}`);
    }
  });

  it('§3 recognises the empty-path message', () => {
    assert.equal(isEmptyPathMessage('Configuration under specified path is empty\n'), true);
    assert.equal(isEmptyPathMessage('Specified configuration path is not valid\n'), false);
    assert.equal(isEmptyPathMessage(undefined), false);
  });
});
