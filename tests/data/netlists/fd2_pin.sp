// Two-stage fully differential Miller OTA with a PMOS input pair, NMOS common-source
// second stage with cascoded PMOS current sources, plain Miller capacitors.
// CMFB: resistive+capacitive output sense, PMOS-pair amplifier against a reference made
// by a resistive divider of the supply, output diode mirrored onto the stage-1 NMOS loads.
subckt fd2_pin VIP VIM VOP VOM IB VDD VSS
M0 (tp vbp VDD VDD) pch l=1u w=30u m=2 nf=10
M1 (o1m VIP tp VDD) pch_lvt l=0.5u w=30u m=1 nf=10
M2 (o1p VIM tp VDD) pch_lvt l=0.5u w=30u m=1 nf=10
M3 (o1m vcmfb VSS VSS) nch l=1u w=10u m=1 nf=5
M4 (o1p vcmfb VSS VSS) nch l=1u w=10u m=1 nf=5
M5 (VOM o1m VSS VSS) nch l=0.3u w=40u m=2 nf=10
M6 (VOP o1p VSS VSS) nch l=0.3u w=40u m=2 nf=10
M7 (VOM vbpc c7 VDD) pch l=0.3u w=60u m=2 nf=10
M8 (VOP vbpc c8 VDD) pch l=0.3u w=60u m=2 nf=10
M9 (c7 vbp VDD VDD) pch l=1u w=60u m=2 nf=10
M10 (c8 vbp VDD VDD) pch l=1u w=60u m=2 nf=10
CC1 (o1m VOM) cfmom_2t nr=80 lr=20u w=70n s=70n stm=3 spm=6 multi=1
CC2 (o1p VOP) cfmom_2t nr=80 lr=20u w=70n s=70n stm=3 spm=6 multi=1
RS1 (VOP cms) rppolywo l=40u w=1u
RS2 (VOM cms) rppolywo l=40u w=1u
CS1 (VOP cms) cfmom_2t nr=10 lr=10u w=70n s=70n stm=3 spm=6 multi=1
CS2 (VOM cms) cfmom_2t nr=10 lr=10u w=70n s=70n stm=3 spm=6 multi=1
M11 (vcmfb cms ct VDD) pch l=0.5u w=6u m=1 nf=2
M12 (cb vref ct VDD) pch l=0.5u w=6u m=1 nf=2
M13 (ct vbp VDD VDD) pch l=1u w=12u m=1 nf=4
M14 (vcmfb vcmfb VSS VSS) nch l=1u w=3u m=1 nf=1
M15 (cb cb VSS VSS) nch l=1u w=3u m=1 nf=1
RD1 (VDD vref) rppolywo l=60u w=1u
RD2 (vref VSS) rppolywo l=60u w=1u
M20 (IB IB VSS VSS) nch l=1u w=5u m=1 nf=2
M21 (vbp IB VSS VSS) nch l=1u w=5u m=1 nf=2
M22 (vbp vbp VDD VDD) pch l=1u w=10u m=1 nf=2
M23 (vbpc IB VSS VSS) nch l=1u w=5u m=1 nf=2
M24 (vbpc vbpc VDD VDD) pch l=3u w=4u m=1 nf=1
ends fd2_pin
