// Feed-forward two-stage fully differential OTA (in the spirit of UT-AnLay's Core_FF).
// Stage 1: NMOS pair, PMOS loads from a bias line, NMOS tail.
// Stage 2: PMOS common-source devices gated by the stage-1 outputs, NMOS sinks set by CMFB.
// Feed-forward: a second NMOS pair, gated by the inputs, drives the outputs directly,
// so it shares the output nets (one channel-connected block) with the second stage.
// Compensation: Miller capacitors across the second stage.
// CMFB: resistive output CM sensing into an NMOS-pair amplifier with a mirror load.
subckt ff2_core INP INM OUTP OUTM VCM IBN VDD VSS
M1 (v1m INP nt VSS) nch_lvt l=0.3u w=16u m=1 nf=8
M2 (v1p INM nt VSS) nch_lvt l=0.3u w=16u m=1 nf=8
M3 (v1m vbp VDD VDD) pch l=0.5u w=8u m=1 nf=4
M4 (v1p vbp VDD VDD) pch l=0.5u w=8u m=1 nf=4
M0 (nt IBN VSS VSS) nch l=0.5u w=12u m=1 nf=6
M7 (OUTM v1m VDD VDD) pch l=0.2u w=40u m=1 nf=10
M8 (OUTP v1p VDD VDD) pch l=0.2u w=40u m=1 nf=10
M9 (OUTM vcmfb VSS VSS) nch l=0.5u w=20u m=1 nf=10
M10 (OUTP vcmfb VSS VSS) nch l=0.5u w=20u m=1 nf=10
M5 (OUTM INM nf VSS) nch_lvt l=0.3u w=8u m=1 nf=4
M6 (OUTP INP nf VSS) nch_lvt l=0.3u w=8u m=1 nf=4
M11 (nf IBN VSS VSS) nch l=0.5u w=6u m=1 nf=3
CC1 (v1m OUTM) cfmom_2t nr=30 lr=8u w=70n s=70n stm=3 spm=6 multi=1
CC2 (v1p OUTP) cfmom_2t nr=30 lr=8u w=70n s=70n stm=3 spm=6 multi=1
RS1 (OUTP cms) rppolywo l=20u w=1u
RS2 (OUTM cms) rppolywo l=20u w=1u
M12 (nc1 cms nct VSS) nch l=0.5u w=4u m=1 nf=2
M13 (vcmfb VCM nct VSS) nch l=0.5u w=4u m=1 nf=2
M14 (nc1 nc1 VDD VDD) pch l=0.5u w=3u m=1 nf=2
M15 (vcmfb nc1 VDD VDD) pch l=0.5u w=3u m=1 nf=2
M16 (nct IBN VSS VSS) nch l=0.5u w=4u m=1 nf=2
MB1 (IBN IBN VSS VSS) nch l=0.5u w=4u m=1 nf=2
MB2 (vbp IBN VSS VSS) nch l=0.5u w=4u m=1 nf=2
MB3 (vbp vbp VDD VDD) pch l=0.5u w=6u m=1 nf=3
ends ff2_core
