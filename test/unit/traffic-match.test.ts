import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shadows } from '../../src/drift/drift-diff';
import {
  catches,
  catchesAnyOf,
  caughtPorts,
  interfaceCatches,
  portRun,
  inRanges,
  protocolTransports,
  ruleCatchment,
  singlePort,
  type Transports,
} from '../../src/vyos/traffic-match';
import { rule } from '../support/router-rules.js';

const portSpecCatches = (spec: string | undefined, port: number) => inRanges(caughtPorts(spec), port);

const TCP: Transports = { tcp: true, udp: false };
const UDP: Transports = { tcp: false, udp: true };
const BOTH: Transports = { tcp: true, udp: true };
const NEITHER: Transports = { tcp: false, udp: false };

describe('protocolTransports', () => {
  const cases: [string | undefined, Transports][] = [
    ['tcp', TCP],
    ['udp', UDP],
    ['tcp_udp', BOTH],
    ['all', BOTH],
    [undefined, BOTH], // absent: the XML default `all`, never stored
    ['6', TCP],
    ['17', UDP],
    ['006', TCP], // the validator reads the number with int()
    ['1', NEITHER],
    ['0', NEITHER],
    ['255', NEITHER],
    ['icmp', NEITHER],
    ['gre', NEITHER],
    ['!tcp', UDP], // and every protocol that is not tcp
    ['!udp', TCP],
    ['!tcp_udp', NEITHER],
    ['!all', NEITHER],
    ['!6', UDP],
    ['!17', TCP],
    ['!icmp', BOTH],
    ['!1', BOTH],
    // garbage the validator would refuse: might catch both, negated or not
    ['bogus', BOTH],
    ['!bogus', BOTH],
    ['256', BOTH],
    ['TCP', BOTH],
    ['', BOTH],
    ['!', BOTH],
    ['!!tcp', BOTH],
  ];
  for (const [protocol, expected] of cases) {
    it(`${protocol === undefined ? '(absent)' : JSON.stringify(protocol)} catches ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(protocolTransports(protocol), expected);
    });
  }
});

describe('caughtPorts', () => {
  it('absent catches every port', () => {
    assert.deepEqual(caughtPorts(undefined), [[1, 65535]]);
    assert.equal(portSpecCatches(undefined, 443), true);
  });

  it('single ports, comma lists and ranges, merged and sorted', () => {
    assert.deepEqual(caughtPorts('443'), [[443, 443]]);
    assert.deepEqual(caughtPorts('80,443'), [[80, 80], [443, 443]]);
    assert.deepEqual(caughtPorts('500-600,400-510,601,8080'), [[400, 601], [8080, 8080]]);
    assert.equal(portSpecCatches('80,442', 443), false);
    assert.equal(portSpecCatches('400-500', 443), true);
    assert.equal(portSpecCatches('400-442,444-500', 443), false);
  });

  it('service names are their /etc/services ports; unknown names list nothing', () => {
    assert.deepEqual(caughtPorts('https'), [[443, 443]]);
    assert.deepEqual(caughtPorts('ssh,http,domain'), [[22, 22], [53, 53], [80, 80]]);
    assert.deepEqual(caughtPorts('no-such-service'), []);
  });

  it('a leading ! negates the whole list: !22,80 is neither 22 nor 80', () => {
    assert.deepEqual(caughtPorts('!22,80'), [[1, 21], [23, 79], [81, 65535]]);
    assert.equal(portSpecCatches('!22,80', 80), false);
    assert.equal(portSpecCatches('!22,80', 22), false);
    assert.equal(portSpecCatches('!22,80', 443), true);
    assert.deepEqual(caughtPorts('!1-65535'), []);
    assert.deepEqual(caughtPorts('!1,65535'), [[2, 65534]]);
    assert.deepEqual(caughtPorts('!ssh'), [[1, 21], [23, 65535]]);
    // an unknown name excludes nothing: a negated list then errs towards catching more
    assert.deepEqual(caughtPorts('!no-such-service'), [[1, 65535]]);
  });

  it('a ! further in is read as a listed element (nat.py negates only from the front)', () => {
    assert.deepEqual(caughtPorts('22,!80'), [[22, 22], [80, 80]]);
  });

  it('values the validator refuses list nothing', () => {
    assert.deepEqual(caughtPorts('0'), []);
    assert.deepEqual(caughtPorts('65536'), []);
    assert.deepEqual(caughtPorts('90-80'), []);
    assert.deepEqual(caughtPorts(''), []);
  });

  it('singlePort: exactly one numeric port, nothing else', () => {
    assert.equal(singlePort('8080'), 8080);
    for (const v of [undefined, '', '0', '65536', '80,443', '80-81', 'http', '!80']) assert.equal(singlePort(v), null, String(v));
  });
});

describe('interfaceCatches', () => {
  it('absent and any catch every interface; ! negates; * is a wildcard', () => {
    assert.equal(interfaceCatches(undefined, 'eth0'), true);
    assert.equal(interfaceCatches('any', 'eth0'), true);
    assert.equal(interfaceCatches('eth0', 'eth0'), true);
    assert.equal(interfaceCatches('eth1', 'eth0'), false);
    assert.equal(interfaceCatches('!eth1', 'eth0'), true);
    assert.equal(interfaceCatches('!eth0', 'eth0'), false);
    assert.equal(interfaceCatches('eth*', 'eth0'), true);
    assert.equal(interfaceCatches('eth*', 'eth0.10'), true);
    assert.equal(interfaceCatches('br*', 'eth0'), false);
    assert.equal(interfaceCatches('eth0.1', 'eth0x1'), false, 'a dot is literal');
  });
});

// A foreign rule read once, by the function allocation uses (ruleCatchment) and by the one drift
// uses (shadows): for each protocol form on port P, what one says is taken the other calls shadowed.
describe('allocation and shadowing read a foreign rule the same way', () => {
  const P = 32080;
  const forms: [string | undefined, Transports][] = [
    ['!tcp', UDP],
    ['6', TCP],
    ['17', UDP],
    ['all', BOTH],
    [undefined, BOTH],
    ['tcp_udp', BOTH],
    ['icmp', NEITHER],
    ['!tcp_udp', NEITHER],
  ];
  for (const [protocol, expected] of forms) {
    for (const externalPort of [String(P), `!22,${P + 1}`, undefined]) {
      it(`protocol ${protocol ?? '(absent)'}, destination port ${externalPort ?? '(absent)'}`, () => {
        const foreign = rule(100, { protocol, externalPort });
        const caught = ruleCatchment(foreign, 'eth0');
        for (const [ours, transport] of [['tcp', TCP], ['udp', UDP]] as const) {
          const want = transport.tcp ? expected.tcp : expected.udp;
          assert.equal(catches(caught, transport, P), want, `allocation, ${ours}`);
          assert.equal(shadows(foreign, rule(10000, { protocol: ours, externalPort: String(P) }), 'eth0'), want, `drift, ${ours}`);
        }
        assert.equal(catches(caught, BOTH, 22), externalPort === undefined && (expected.tcp || expected.udp), 'port 22: only a rule without ports catches it');
      });
    }
  }

  it('a rule on another interface catches nothing on ours', () => {
    const foreign = rule(100, { protocol: 'all', externalPort: undefined, inboundInterface: 'eth1' });
    assert.deepEqual(ruleCatchment(foreign, 'eth0'), { tcp: false, udp: false, ports: [] });
    assert.equal(shadows(foreign, rule(10000), 'eth0'), false);
  });
});

describe('portRun: the runs a rule of ours renders (docs/operations.md "Port ranges")', () => {
  it('reads one port or one ascending range, nothing else', () => {
    assert.deepEqual(['8080', '30000-30099', '1-65535', '5-5'].map(portRun), [[8080, 8080], [30000, 30099], [1, 65535], [5, 5]]);
    for (const spec of [undefined, '30099-30000', '80,443', '!80', 'http', '0-10', '1-65536', '80-']) assert.equal(portRun(spec), null, String(spec));
  });

  it('catchesAnyOf: a foreign rule catching one port of the run catches the run', () => {
    const c = { tcp: true, udp: false, ports: caughtPorts('30049,40000-40010') };
    assert.equal(catchesAnyOf(c, { tcp: true, udp: false }, [30000, 30049]), true);
    assert.equal(catchesAnyOf(c, { tcp: true, udp: false }, [30000, 30048]), false);
    assert.equal(catchesAnyOf(c, { tcp: true, udp: false }, [40010, 40020]), true);
    assert.equal(catchesAnyOf(c, { tcp: false, udp: true }, [30000, 30049]), false, 'another transport');
  });
});
