// Faults a test arms on the simulator. Each "next" fault fires once; counts say how many more times.
import type { RouterCommand } from '../vyos/types';

/** The armed faults; `Simulator.faults` (simulator.ts) is the public face of this. */
export class FaultPlan {
  rejectCommit: string | null = null;
  /** successful commits to let through before rejectCommit fires */
  rejectSkip = 0;
  failConfirm: string | null = null;
  /** confirms still to fail, and confirms to answer normally before the failures start */
  failConfirmTimes = 0;
  failConfirmSkip = 0;
  /** the next `op: confirm` is held this long before the router processes it */
  confirmDelayMs = 0;
  /** the next save (`/config-file save`) takes this long: a real router renders the whole config to save it */
  saveDelayMs = 0;
  /** one commit request is held this long before it reaches the router's lock and session */
  commitHoldMs = 0;
  /** commit requests to let through unheld before the hold applies */
  commitHoldSkip = 0;
  loseReply = false;
  tamper: RouterCommand[] | null = null;
  /** refuse every batch with a command whose path contains this text (until cleared) */
  poison: string | null = null;
  internalErrors = 0;
  /** API requests to answer normally before the 500s start */
  internalSkip = 0;
  slowMs = 0;
  slowTimes = 0;
  /** the next /config-file load|merge fails with this text after it reached the session (failNextLoad) */
  failLoad: string | null = null;
  /** requests still to answer as nginx's 502/503 (gatewayErrors), and whether the work happens first */
  gatewayErrors = 0;
  gatewayStatus: 502 | 503 = 502;
  gatewayAfterWork = false;

  /** Takes an armed one-shot value, disarming it. */
  takeRejectCommit(): string | null {
    if (this.rejectCommit !== null && this.rejectSkip > 0) {
      this.rejectSkip--;
      return null;
    }
    const m = this.rejectCommit;
    this.rejectCommit = null;
    return m;
  }

  takeFailConfirm(): string | null {
    if (this.failConfirm === null || this.failConfirmTimes <= 0) return null;
    if (this.failConfirmSkip > 0) {
      this.failConfirmSkip--;
      return null;
    }
    const m = this.failConfirm;
    if (--this.failConfirmTimes <= 0) this.failConfirm = null;
    return m;
  }

  takeConfirmDelay(): number {
    const ms = this.confirmDelayMs;
    this.confirmDelayMs = 0;
    return ms;
  }

  takeSaveDelay(): number {
    const ms = this.saveDelayMs;
    this.saveDelayMs = 0;
    return ms;
  }

  /** Called once per commit request (/configure batch, /config-file load|merge) as it arrives. */
  takeCommitHold(): number {
    if (this.commitHoldMs <= 0) return 0;
    if (this.commitHoldSkip > 0) {
      this.commitHoldSkip--;
      return 0;
    }
    const ms = this.commitHoldMs;
    this.commitHoldMs = 0;
    return ms;
  }

  takeTamper(): RouterCommand[] | null {
    const t = this.tamper;
    this.tamper = null;
    return t;
  }

  takeLoseReply(): boolean {
    const lose = this.loseReply;
    this.loseReply = false;
    return lose;
  }

  takeInternalError(): boolean {
    if (this.internalErrors <= 0) return false;
    if (this.internalSkip > 0) {
      this.internalSkip--;
      return false;
    }
    this.internalErrors--;
    return true;
  }

  takeFailLoad(): string | null {
    const m = this.failLoad;
    this.failLoad = null;
    return m;
  }

  takeGatewayError(): { status: 502 | 503; afterWork: boolean } | null {
    if (this.gatewayErrors <= 0) return null;
    this.gatewayErrors--;
    return { status: this.gatewayStatus, afterWork: this.gatewayAfterWork };
  }

  takeDelay(): number {
    if (this.slowTimes <= 0 || this.slowMs <= 0) return 0;
    this.slowTimes--;
    return this.slowMs;
  }

  clear(): void {
    this.poison = null;
    this.rejectCommit = null;
    this.rejectSkip = 0;
    this.failConfirm = null;
    this.failConfirmTimes = 0;
    this.failConfirmSkip = 0;
    this.confirmDelayMs = 0;
    this.saveDelayMs = 0;
    this.commitHoldMs = 0;
    this.commitHoldSkip = 0;
    this.loseReply = false;
    this.tamper = null;
    this.internalErrors = 0;
    this.internalSkip = 0;
    this.slowMs = 0;
    this.slowTimes = 0;
    this.failLoad = null;
    this.gatewayErrors = 0;
    this.gatewayAfterWork = false;
  }
}
