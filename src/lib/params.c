/*
 * params.c - the parameter table: every yubin.conf parameter with its type,
 * default (Postfix's, where Postfix has the parameter), bounds and one line
 * of documentation. config.c reads this table; 'yubin config -d -v' and
 * man/yubin.conf.5 show it.
 *
 * Trusts: nothing; this is data. The two computed defaults use
 * gethostname() only (no DNS), so loading the configuration never blocks.
 */
#include "lib/params.h"
#include "lib/util.h"

#include <limits.h>
#include <string.h>

char *var_myhostname, *var_mydomain, *var_myorigin, *var_mydestination;
char *var_mynetworks, *var_relay_domains, *var_mail_name, *var_syslog_name;
char *var_inet_interfaces, *var_proxy_interfaces;
char *var_queue_directory, *var_maillog_file, *var_mail_owner, *var_default_privs;
char *var_smtpd_banner, *var_smtpd_listen;
long var_message_size_limit, var_smtpd_recipient_limit, var_smtpd_timeout;
long var_smtpd_session_deadline, var_smtpd_client_connection_count_limit;
long var_smtpd_session_limit, var_smtpd_hard_error_limit, var_smtpd_soft_error_limit;
long var_smtpd_junk_command_limit, var_smtpd_error_sleep_time;
long var_header_size_limit, var_hopcount_limit, var_queue_minfree;
bool var_smtputf8_enable;
char *var_smtpd_tls_cert_file, *var_smtpd_tls_key_file, *var_smtpd_tls_security_level;
long var_maximal_queue_lifetime, var_bounce_queue_lifetime;
long var_minimal_backoff_time, var_maximal_backoff_time, var_queue_run_delay;
long var_delay_warning_time;
char *var_alias_maps, *var_alias_database;

/*
 * myhostname: as Postfix's check_myhostname(): the name from gethostname();
 * a name without a dot gets ".$mydomain" when mydomain is set in the file,
 * else ".localdomain". Never DNS: a configuration load must not block.
 */
static char *params_default_myhostname(const struct param_env *env)
{
    const char *name = host_name();
    if (strchr(name, '.'))
        return xstrdup(name);
    if (env->is_set(env->ctx, "mydomain")) {
        const char *domain = env->value(env->ctx, "mydomain");
        if (!domain)
            return NULL;
        if (*domain)
            return xasprintf("%s.%s", name, domain);
    }
    return xasprintf("%s.localdomain", name);
}

/* mydomain: $myhostname minus its first label, else "localdomain". */
static char *params_default_mydomain(const struct param_env *env)
{
    const char *host = env->value(env->ctx, "myhostname");
    if (!host)
        return NULL;
    const char *dot = strchr(host, '.');
    if (!dot || dot[1] == 0)
        return xstrdup("localdomain");
    return xstrdup(dot + 1);
}

#define DAY (24L * 3600)
/* Sizes: large enough for anything real, small enough that adding a few of
 * them never overflows a long. */
#define SIZE_MAX_BYTES (LONG_MAX / 4)

#define ROW_STR(n, d, doc_) {.name = #n, .type = P_STR, .def = d, .var = &var_##n, .doc = doc_}
#define ROW_LIST(n, d, doc_) {.name = #n, .type = P_LIST, .def = d, .var = &var_##n, .doc = doc_}
#define ROW_INT(n, d, lo, hi, doc_) \
    {.name = #n, .type = P_INT, .def = d, .min = lo, .max = hi, .var = &var_##n, .doc = doc_}
#define ROW_SIZE(n, d, lo, doc_) \
    {.name = #n, .type = P_SIZE, .def = d, .min = lo, .max = SIZE_MAX_BYTES, .var = &var_##n, .doc = doc_}
#define ROW_TIME(n, d, u, lo, hi, doc_) \
    {.name = #n, .type = P_TIME, .def = d, .min = lo, .max = hi, .unit = u, .var = &var_##n, .doc = doc_}
#define ROW_BOOL(n, d, doc_) {.name = #n, .type = P_BOOL, .def = d, .var = &var_##n, .doc = doc_}

const struct param param_table[] = {
    /* Identity */
    {.name = "myhostname", .type = P_STR, .compute = params_default_myhostname, .var = &var_myhostname,
     .doc = "The fully-qualified name of this host, used in the SMTP greeting, Received: headers, "
            "Message-ID and bounces (default: gethostname(), plus .$mydomain or .localdomain when it has no dot)"},
    {.name = "mydomain", .type = P_STR, .compute = params_default_mydomain, .var = &var_mydomain,
     .doc = "The internet domain of this host (default: $myhostname minus its first label, else localdomain)"},
    ROW_STR(myorigin, "$myhostname",
        "The domain appended to unqualified addresses in locally posted mail, and that local mail comes from"),
    ROW_LIST(mydestination, "$myhostname, localhost.$mydomain, localhost",
         "Domains delivered locally; do not list $mydomain on a host whose mail for that domain lives elsewhere"),
    ROW_LIST(mynetworks, "127.0.0.0/8 [::1]/128",
         "Client networks trusted to relay mail; keep it narrow, behind a proxy every client looks local"),
    ROW_LIST(relay_domains, "",
         "Domains (and their subdomains) this host forwards mail to from untrusted clients"),
    ROW_STR(mail_name, "yubin", "The mail system name shown in the SMTP greeting and Received: headers"),
    ROW_STR(syslog_name, "yubin", "The name that starts every log line (NAME/program[pid])"),
    ROW_LIST(inet_interfaces, "all",
         "The addresses this host receives mail on: all, loopback-only or a list of addresses"),
    ROW_LIST(proxy_interfaces, "",
         "Addresses this host is reached on through a proxy or NAT, counted as its own"),
    /* Files, processes, logging */
    ROW_STR(queue_directory, "/var/spool/yubin", "The directory that holds the mail queue"),
    ROW_STR(maillog_file, "",
        "The file the mail log is written to; empty means syslog (facility mail); /dev/stderr and /dev/stdout work"),
    ROW_STR(mail_owner, "yubin", "The unprivileged user that owns the queue and runs the mail system"),
    ROW_STR(default_privs, "nobody",
        "The user that deliveries to files and commands named in root-owned alias files run as"),
    /* SMTP server */
    ROW_STR(smtpd_banner, "$myhostname ESMTP $mail_name", "The text after 220 in the SMTP greeting"),
    ROW_LIST(smtpd_listen, "0.0.0.0:25 [::]:25",
         "yubin only: the addresses and ports the SMTP server listens on, as address:port or [ipv6]:port"),
    ROW_SIZE(message_size_limit, "10240000", 1,
         "The largest message accepted, in bytes, including the envelope (advertised with SIZE)"),
    ROW_INT(smtpd_recipient_limit, "1000", 1, 1000000, "The most recipients accepted in one message"),
    ROW_TIME(smtpd_timeout, "300s", 's', 1, DAY,
         "How long the SMTP server waits for a client command or reply before it disconnects"),
    ROW_TIME(smtpd_session_deadline, "1800s", 's', 1, 7 * DAY,
         "yubin only: the longest an SMTP session may last in total, however active the client is"),
    ROW_INT(smtpd_client_connection_count_limit, "50", 0, 1000000,
        "The most simultaneous connections one client address may have (0 means no limit)"),
    ROW_INT(smtpd_session_limit, "1000", 1, 1000000,
        "yubin only: the most simultaneous SMTP sessions in total; further connections get 421"),
    ROW_INT(smtpd_hard_error_limit, "20", 1, 1000000,
        "The number of errors after which the SMTP server disconnects a client"),
    ROW_INT(smtpd_soft_error_limit, "10", 1, 1000000,
        "The number of errors after which the SMTP server delays each reply by smtpd_error_sleep_time"),
    ROW_INT(smtpd_junk_command_limit, "100", 1, 1000000,
        "The most NOOP, VRFY, ETRN and RSET commands a session may use before they count as errors"),
    ROW_TIME(smtpd_error_sleep_time, "1s", 's', 0, 300,
         "The delay before replying once a client has made smtpd_soft_error_limit errors"),
    ROW_SIZE(header_size_limit, "102400", 1, "The largest message header accepted, in bytes"),
    ROW_INT(hopcount_limit, "50", 1, 10000,
        "The most Received: headers a message may have before it is refused as a loop"),
    ROW_SIZE(queue_minfree, "0", 0,
         "The free space in bytes the queue file system must keep; mail is refused below it (0 means no check)"),
    ROW_BOOL(smtputf8_enable, "yes", "Announce and accept SMTPUTF8 (RFC 6531) internationalized mail"),
    ROW_STR(smtpd_tls_cert_file, "", "The PEM file with the SMTP server's certificate (and chain)"),
    ROW_STR(smtpd_tls_key_file, "", "The PEM file with the SMTP server's private key"),
    {.name = "smtpd_tls_security_level", .type = P_STR, .def = "", .var = &var_smtpd_tls_security_level,
     .choices = "none|may|encrypt",
     .doc = "SMTP server TLS: none, may (offer STARTTLS) or encrypt (require it); empty means none"},
    /* Queue and scheduling */
    ROW_TIME(maximal_queue_lifetime, "5d", 'd', 0, 100 * DAY,
         "How long a message may stay in the queue before it is returned as undeliverable (0: try once)"),
    ROW_TIME(bounce_queue_lifetime, "5d", 'd', 0, 100 * DAY,
         "The same for bounces (mail from the null sender); no longer than maximal_queue_lifetime"),
    ROW_TIME(minimal_backoff_time, "300s", 's', 1, 7 * DAY,
         "The shortest wait before a deferred message is tried again"),
    ROW_TIME(maximal_backoff_time, "4000s", 's', 1, 7 * DAY,
         "The longest wait before a deferred message is tried again"),
    ROW_TIME(queue_run_delay, "300s", 's', 1, 7 * DAY, "How often the deferred queue is scanned"),
    ROW_TIME(delay_warning_time, "0h", 'h', 0, 100 * DAY,
         "Warn the sender once a message has been delayed this long (0 means never)"),
    /* Local delivery */
    ROW_LIST(alias_maps, "hash:/etc/aliases",
         "The alias tables local delivery consults, in /etc/aliases syntax"),
    ROW_LIST(alias_database, "hash:/etc/aliases", "The alias tables newaliases checks"),
};

const size_t param_count = ARRAY_LEN(param_table);

const struct param *param_find(const char *name)
{
    for (size_t i = 0; i < param_count; i++)
        if (strcmp(param_table[i].name, name) == 0)
            return &param_table[i];
    return NULL;
}
