using System.Security.Cryptography;
using BundleCluster.Api.Tenants;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace BundleCluster.Api.Auth;

/// <summary>
/// Bearer JWTs, from an OpenID Connect authority (keys from its discovery document) or from one PEM public key with a
/// fixed issuer (a Kubernetes service-account issuer, a simple deployment). Only RS256 and ES256 are accepted, tokens
/// must be signed and unexpired and carry the audience; anything else is a 401 with one sentence saying which check
/// failed. Tokens are never logged (IdentityModel hides them, and nothing here prints a header).
/// </summary>
internal static class BearerTokens
{
    /// <summary>Callers a tenant's jobs belong to.</summary>
    public const string JobsPolicy = "jobs";

    public const string ScalePolicy = "scale";

    public const string OperatorPolicy = "operator";

    public static readonly string[] Algorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256];

    /// <param name="signingKey">The key of --jwt-key-file, loaded at start (<see cref="LoadPublicKey"/>); null with an authority.</param>
    public static IServiceCollection AddBundleApiAuth(this IServiceCollection services, ApiOptions options, TenantDirectory tenants, SecurityKey? signingKey)
    {
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(jwt =>
        {
            jwt.MapInboundClaims = false; // "sub" stays "sub": the tenants file names claims as tokens spell them
            jwt.TokenValidationParameters = new TokenValidationParameters
            {
                ValidateIssuer = true,
                ValidIssuer = options.JwtIssuer,
                ValidateAudience = true,
                ValidAudience = options.JwtAudience,
                ValidateLifetime = true,
                RequireExpirationTime = true,
                RequireSignedTokens = true,
                ValidateIssuerSigningKey = true,
                ValidAlgorithms = Algorithms,
                ClockSkew = TimeSpan.FromSeconds(30),
            };
            if (signingKey is not null)
            {
                jwt.TokenValidationParameters.IssuerSigningKey = signingKey;
            }
            else
            {
                jwt.Authority = options.JwtAuthority;
                var authority = new Uri(options.JwtAuthority!);
                jwt.RequireHttpsMetadata = !authority.IsLoopback; // plain http only to a discovery endpoint on this host
                jwt.TokenValidationParameters.ValidateIssuer = true;
                jwt.TokenValidationParameters.ValidIssuer = options.JwtIssuer ?? options.JwtAuthority!.TrimEnd('/');
            }

            jwt.Events = new JwtBearerEvents
            {
                OnChallenge = async context =>
                {
                    context.HandleResponse();
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    context.Response.Headers.WWWAuthenticate = "Bearer";
                    await Problems.Of(StatusCodes.Status401Unauthorized, "Unauthorized", Reason(context)).ExecuteAsync(context.HttpContext);
                },
                OnForbidden = context => Problems.Forbidden("this token may not use this endpoint").ExecuteAsync(context.HttpContext),
            };
        });

        services.AddAuthorizationBuilder()
            .AddPolicy(JobsPolicy, p => p.RequireAuthenticatedUser())
            .AddPolicy(ScalePolicy, p => p.RequireAuthenticatedUser().RequireAssertion(c => tenants.MayReadScale(c.User)))
            .AddPolicy(OperatorPolicy, p => p.RequireAuthenticatedUser().RequireAssertion(c => tenants.IsOperator(c.User)));
        return services;
    }

    /// <summary>An RSA or EC P-256 public key (or an X.509 certificate holding one) in PEM, read at start.</summary>
    /// <exception cref="InvalidDataException">The file holds neither (one line saying so).</exception>
    public static SecurityKey LoadPublicKey(string path)
    {
        string pem = File.ReadAllText(path);
        if (pem.Contains("BEGIN CERTIFICATE", StringComparison.Ordinal))
        {
            var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(pem);
            return new X509SecurityKey(certificate);
        }

        // The PEM label is "PUBLIC KEY" for both kinds: the key's algorithm is inside. Try each.
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            _ = rsa.ExportParameters(false); // an EC key may import here and fail on use: make it fail now
            return new RsaSecurityKey(rsa);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            rsa.Dispose();
        }

        var ec = ECDsa.Create();
        try
        {
            ec.ImportFromPem(pem);
            return ec.ExportParameters(false).Curve.Oid.FriendlyName is "nistP256" or "ECDSA_P256"
                ? new ECDsaSecurityKey(ec)
                : throw new InvalidDataException($"--jwt-key-file '{path}' holds an EC key on another curve than P-256 (ES256)");
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            ec.Dispose();
            throw new InvalidDataException($"--jwt-key-file '{path}' holds no RSA or EC P-256 public key (PEM) or certificate");
        }
    }

    /// <summary>Which check a token failed, in one sentence.</summary>
    private static string Reason(JwtBearerChallengeContext context) => context.AuthenticateFailure switch
    {
        null => "a bearer token is required (Authorization: Bearer TOKEN)",
        SecurityTokenExpiredException => "the token has expired",
        SecurityTokenNotYetValidException => "the token is not valid yet",
        SecurityTokenNoExpirationException => "the token has no expiry (exp)",
        SecurityTokenInvalidAudienceException => "the token is for another audience",
        SecurityTokenInvalidIssuerException => "the token is from another issuer",
        SecurityTokenInvalidAlgorithmException => $"the token's algorithm is not accepted (only {string.Join(", ", Algorithms)})",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "the token's signature does not verify",
        SecurityTokenMalformedException or ArgumentException => "the token is not a well-formed JWT",
        _ => "the token is not valid",
    };
}
