// A local OpenID Connect provider for the console's sign-in tests: npm oidc-provider with its development
// login screens, one confidential client, and accounts whose `groups` come from OIDC_ACCOUNTS (JSON).
import Provider from "oidc-provider";

const { OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI, OIDC_ACCOUNTS } = process.env;
const accounts = JSON.parse(OIDC_ACCOUNTS || "{}");
const issuer = `http://127.0.0.1:${OIDC_PORT}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: OIDC_CLIENT_ID,
    client_secret: OIDC_CLIENT_SECRET,
    redirect_uris: [OIDC_REDIRECT_URI],
    grant_types: ["authorization_code"],
    response_types: ["code"],
  }],
  claims: { openid: ["sub"], profile: ["name", "groups"] },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    const known = accounts[id];
    if (!known) return undefined;
    return { accountId: id, async claims() { return { sub: id, name: known.name, groups: known.groups }; } };
  },
});
provider.on("server_error", (ctx, err) => console.error("server_error", err));
provider.listen(Number(OIDC_PORT), "127.0.0.1", () => console.log(`listening ${issuer}`));
