/**
 * Reads an authenticator name `issuer:account` (or `issuer: account`, or just `account`) the way the Key URI format
 * and Google Authenticator exports write it. An explicit issuer (the `issuer` parameter, the export's issuer field)
 * wins over the name's prefix, as the Key URI format recommends.
 */
export function splitIssuerAccount(name: string, explicitIssuer: string): { issuer: string; account: string } {
  const colon = name.indexOf(":");
  const account = (colon < 0 ? name : name.slice(colon + 1)).trim();
  const prefix = colon < 0 ? "" : name.slice(0, colon).trim();
  return { issuer: explicitIssuer.trim() || prefix, account };
}
