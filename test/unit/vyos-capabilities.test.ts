import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deriveCapabilities, hasCommitConfirm, natSyntaxOf, versionFromShowVersion } from '../../src/vyos/capabilities';
import { isEmptyPathMessage, readReply } from '../../src/vyos/envelope';
import { RouterErrorKind } from '../../src/vyos/types';

describe('capabilities (vyos-api.md §4, §5)', () => {
  it('§4 commit-confirm over the API: 2025+ rolling and numbered 1.5+, nothing older', () => {
    assert.equal(hasCommitConfirm('1.5-rolling-202507010000'), true);
    assert.equal(hasCommitConfirm('rolling'), true);
    assert.equal(hasCommitConfirm('1.5-rolling-202410210031'), false); // Oct 2024: no confirm_time
    assert.equal(hasCommitConfirm('1.5-rolling-202503150000'), false); // has /info, not commit-confirm
    assert.equal(hasCommitConfirm('1.5.0'), true);
    assert.equal(hasCommitConfirm('2.0'), true);
    assert.equal(hasCommitConfirm('1.4.0'), false);
    assert.equal(hasCommitConfirm('1.3.8'), false);
    assert.equal(hasCommitConfirm('unknown'), false);
  });

  it('§5 NAT syntax: 1.3 only for 1.3.x', () => {
    assert.equal(natSyntaxOf('1.3.8'), '1.3');
    assert.equal(natSyntaxOf('1.4.0'), '1.4');
    assert.equal(natSyntaxOf('1.5-rolling-202507010000'), '1.4');
    assert.equal(natSyntaxOf('unknown'), '1.4');
  });

  it('overrides win', () => {
    assert.deepEqual(deriveCapabilities('1.3.8', { commitConfirm: 'on', syntax: '1.4' }), {
      version: '1.3.8',
      commitConfirm: true,
      syntax: '1.4',
    });
    assert.deepEqual(deriveCapabilities('1.5-rolling-202507010000', { commitConfirm: 'off' }).commitConfirm, false);
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

  it('§1 400/422 success:false is REJECTED with the error text verbatim', () => {
    const text = 'Destination NAT configuration error in rule 10: &lt;x&gt;\n\n[[nat]] failed\nCommit failed\n';
    const r = readReply(400, JSON.stringify({ success: false, error: text, data: null }));
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.kind, RouterErrorKind.REJECTED);
    assert.equal(!r.ok && r.routerMessage, text);
    const r422 = readReply(422, '{"success": false, "error": "Non-empty data field is required", "data": null}');
    assert.equal(!r422.ok && r422.kind, RouterErrorKind.REJECTED);
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
