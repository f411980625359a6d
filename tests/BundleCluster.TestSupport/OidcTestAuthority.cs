using System.Security.Cryptography;
using BundleCluster.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace BundleCluster.TestSupport;

/// <summary>
/// The two documents bundle-api reads from an OpenID Connect authority — discovery and the key set (JWKS) — served
/// over HTTP on 127.0.0.1, with the RSA key that signs this authority's tokens. What an identity provider does for
/// bearer tokens, without the login flows no test here needs.
/// </summary>
public sealed class OidcTestAuthority : IAsyncDisposable
{
    private static readonly string[] Algorithms = ["RS256"];
    private readonly RSA _key = RSA.Create(2048);
    private readonly WebApplication _app;

    private OidcTestAuthority(WebApplication app, string issuer)
    {
        _app = app;
        Issuer = issuer;
    }

    /// <summary>The authority's URL, which is also its tokens' issuer.</summary>
    public string Issuer { get; }

    public static async Task<OidcTestAuthority> StartAsync()
    {
        int port = RedisServer.FreePort();
        string issuer = $"http://127.0.0.1:{port}";
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(issuer);
        builder.Logging.ClearProviders();
        WebApplication app = builder.Build();
        var authority = new OidcTestAuthority(app, issuer);
        RSAParameters key = authority._key.ExportParameters(false);
        app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = issuer,
            ["jwks_uri"] = issuer + "/jwks",
            ["id_token_signing_alg_values_supported"] = Algorithms,
        }));
        app.MapGet("/jwks", () => Results.Json(new Dictionary<string, object>
        {
            ["keys"] = new[]
            {
                new Dictionary<string, string>
                {
                    ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256",
                    ["n"] = DevelopmentToken.Base64Url(key.Modulus!), ["e"] = DevelopmentToken.Base64Url(key.Exponent!),
                },
            },
        }));
        await app.StartAsync();
        return authority;
    }

    public string TokenFor(string subject, string audience) => DevelopmentToken.Sign(_key,
        new Dictionary<string, object> { ["sub"] = subject, ["aud"] = audience, ["iss"] = Issuer }, TimeSpan.FromMinutes(10));

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _key.Dispose();
    }
}
