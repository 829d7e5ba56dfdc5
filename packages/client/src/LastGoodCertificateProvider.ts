import type { experimental } from "@grpc/grpc-js";
import { isCertificate, keyMatches } from "./pemChecks.js";

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/**
 * Passes on the reads of `source` (grpc-js's FileWatcherCertificateProvider) except a failed or inconsistent one
 * once a good one has been passed on: that provider reports a read that failed, or a certificate read with the key
 * of another, as "no credentials", and every new connection would then fail until its next read. A file caught in
 * the middle of a rewrite, or a certificate renewed before its key, leaves the last good set in use instead, and the
 * next read tries again. Before the first good read, a failure passes: there is nothing better to connect with.
 */
export class LastGoodCertificateProvider implements experimental.CertificateProvider {
  private goodCa = false;
  private goodIdentity = false;
  private readonly caListeners = new Map<CaListener, CaListener>();
  private readonly identityListeners = new Map<IdentityListener, IdentityListener>();

  constructor(private readonly source: experimental.CertificateProvider) {}

  addCaCertificateListener(listener: CaListener): void {
    const filtered: CaListener = (update) => {
      const good = update !== null && isCertificate(update.caCertificate);
      if (!good && this.goodCa) return;
      this.goodCa ||= good;
      listener(good ? update : null);
    };
    this.caListeners.set(listener, filtered);
    this.source.addCaCertificateListener(filtered);
  }

  removeCaCertificateListener(listener: CaListener): void {
    const filtered = this.caListeners.get(listener);
    if (!filtered) return;
    this.caListeners.delete(listener);
    this.source.removeCaCertificateListener(filtered);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    const filtered: IdentityListener = (update) => {
      const good = update !== null && keyMatches(update.certificate, update.privateKey);
      if (!good && this.goodIdentity) return;
      this.goodIdentity ||= good;
      listener(good ? update : null);
    };
    this.identityListeners.set(listener, filtered);
    this.source.addIdentityCertificateListener(filtered);
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    const filtered = this.identityListeners.get(listener);
    if (!filtered) return;
    this.identityListeners.delete(listener);
    this.source.removeIdentityCertificateListener(filtered);
  }
}
