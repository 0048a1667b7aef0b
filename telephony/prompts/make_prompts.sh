#!/bin/sh
# Generate the bridge's Chinese voice prompts: espeak-ng (Mandarin voice "cmn") -> sox -> 8 kHz
# mono 16-bit WAV, the format the bridge plays (G.711 on the wire). Re-run after editing a text;
# the WAVs are committed so the bridge runs without espeak-ng/sox installed.
# Needs Debian packages: espeak-ng sox
set -eu
cd "$(dirname "$0")"
command -v espeak-ng >/dev/null || { echo "espeak-ng missing (apt-get install espeak-ng)"; exit 1; }
command -v sox >/dev/null || { echo "sox missing (apt-get install sox)"; exit 1; }

say() {  # say NAME TEXT
    espeak-ng -v cmn -s 150 -w "/tmp/prompt_$$.wav" "$2"
    sox "/tmp/prompt_$$.wav" -r 8000 -c 1 -b 16 -e signed-integer "$1.wav" norm -3 silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 0 0.15
    rm -f "/tmp/prompt_$$.wav"
}

say greeting "您好，这里是12345政务服务便民热线。"
say queue "正在为您转接话务员，请稍候。"
say hold "话务员正忙，请您耐心等待。"
say menu "人工服务请按1，查询工单办理进度请按2，留言请按3。"
say ticket_prompt "请输入工单编号，以井号键结束。"
say ticket_is "您查询的工单"
say ticket_not_found "没有找到这个工单，请核对编号。"
say status_accepted "已受理"
say status_dispatched "已派单到承办单位"
say status_signed "承办单位已签收"
say status_in_progress "正在办理中"
say status_replied "承办单位已答复"
say status_reviewed "已审核"
say status_called_back "已回访"
say status_closed "已办结"
say status_rejected "不予受理"
say status_returned "正在重新派单"
say status_merged "已与相同诉求合并办理"
say status_unknown "正在处理中"
say voicemail "请在提示音后留言，按井号键结束。"
say voicemail_thanks "您的留言已收到，我们会尽快处理。再见。"
say goodbye "感谢您的来电，再见。"
say invalid "输入有误。"
say survey "您好，这里是12345热线回访。满意请按1，基本满意请按2，不满意请按3。"
say survey_solved "问题已解决请按1，未解决请按2。"
say survey_thanks "感谢您的评价，再见。"
say callback "您好，这里是12345热线，正在为您接通话务员。"
say no_operator "话务员正忙。需要回电请按2；留言请在提示音后开始，按井号键结束。"
say callback_noted "好的，已为您登记回电，话务员会尽快给您回电。再见。"
i=0
for d in 零 一 二 三 四 五 六 七 八 九; do
    say "digit_$i" "$d"
    i=$((i + 1))
done
# Short beep before a recording, and 2 s of soft hold music (a two-tone chime) to loop in the queue
sox -n -r 8000 -c 1 -b 16 -e signed-integer beep.wav synth 0.4 sine 1000 vol 0.5
sox -n -r 8000 -c 1 -b 16 -e signed-integer music.wav synth 0.6 sine 523 synth 0.6 sine 659 vol 0.15 pad 0 0.8
ls -l ./*.wav | awk '{s+=$5} END {print NR " prompts, " s " bytes"}'
