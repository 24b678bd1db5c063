# Sourced by bench/run.sh and bench/instructions.sh, so that both measure
# the same work. What bedrock-tuner does to each request besides signing
# and recording it, from $work_mode:
#   tune  the intent is order_status, whose built-in profile rewrites the
#         body (managed prompt, examples, parameters);
#   sign  the intent is one no profile has, and the configuration says
#         `unknown_intent = "pass_through"`, so the body goes upstream as
#         the app sent it.
# Sets $intent; write_work_config FILE writes the configuration file the
# mode needs (empty for tune).
case $work_mode in
    tune) intent=order_status ;;
    sign) intent=bench_no_profile ;;
    *) echo "BENCH_WORK must be tune or sign, not $work_mode" >&2; exit 2 ;;
esac

write_work_config() {
    if [[ $work_mode == sign ]]; then
        printf '[tuning]\nunknown_intent = "pass_through"\n' >"$1"
    else
        : >"$1"
    fi
}
